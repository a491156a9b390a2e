import { Box, Button, Group, Stack, Text } from '@mantine/core';
import { useRef, useState, type PointerEvent } from 'react';
import { useTranslation } from 'react-i18next';

const WIDTH = 720;
const HEIGHT = 220;

/**
 * Where the patient side signs on the tablet: a canvas drawn with a finger, a stylus or a mouse
 * (pointer events, so touch and mouse are one path; `touch-action: none` keeps the page from
 * scrolling under the finger). Clear to sign again. Each finished stroke hands the signature on
 * as a PNG (base64, white background), or nothing once cleared. Whoever cannot draw confirms with
 * the typed-name checkbox beside it (the form's keyboard path).
 */
export function SignaturePad({ onChange, label }: { onChange: (png: string | undefined) => void; label: string }) {
  const { t } = useTranslation();
  const canvas = useRef<HTMLCanvasElement>(null);
  const drawing = useRef(false);
  const [drawn, setDrawn] = useState(false);

  const context = () => {
    const c = canvas.current;
    const g = c?.getContext('2d');
    if (!c || !g) return undefined;
    if (!c.dataset.ready) {
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, WIDTH, HEIGHT);
      c.dataset.ready = '1';
    }
    g.strokeStyle = '#111111';
    g.lineWidth = 3;
    g.lineCap = 'round';
    g.lineJoin = 'round';
    return { c, g };
  };
  const at = (e: PointerEvent<HTMLCanvasElement>, c: HTMLCanvasElement) => {
    const r = c.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * WIDTH) / r.width, y: ((e.clientY - r.top) * HEIGHT) / r.height };
  };
  const down = (e: PointerEvent<HTMLCanvasElement>) => {
    const ctx = context();
    if (!ctx) return;
    e.preventDefault();
    ctx.c.setPointerCapture(e.pointerId);
    drawing.current = true;
    const p = at(e, ctx.c);
    ctx.g.beginPath();
    ctx.g.moveTo(p.x, p.y);
    // A tap leaves a dot.
    ctx.g.lineTo(p.x + 0.1, p.y + 0.1);
    ctx.g.stroke();
  };
  const move = (e: PointerEvent<HTMLCanvasElement>) => {
    if (!drawing.current) return;
    const ctx = context();
    if (!ctx) return;
    const p = at(e, ctx.c);
    ctx.g.lineTo(p.x, p.y);
    ctx.g.stroke();
  };
  const up = () => {
    if (!drawing.current) return;
    drawing.current = false;
    const c = canvas.current;
    if (!c) return;
    setDrawn(true);
    onChange(c.toDataURL('image/png').replace(/^data:image\/png;base64,/, ''));
  };
  const clear = () => {
    const c = canvas.current;
    const g = c?.getContext('2d');
    if (c && g) {
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, WIDTH, HEIGHT);
    }
    setDrawn(false);
    onChange(undefined);
  };

  return (
    <Stack gap={4}>
      <Text size="sm" fw={600} id="signature-label">
        {label}
      </Text>
      <Box
        component="canvas"
        ref={canvas}
        width={WIDTH}
        height={HEIGHT}
        role="img"
        aria-labelledby="signature-label"
        aria-describedby="signature-hint"
        data-testid="signature-pad"
        data-drawn={drawn ? 'yes' : 'no'}
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={up}
        onPointerCancel={up}
        bd="2px dashed gray.7"
        bg="white"
        w="100%"
        maw={WIDTH}
        style={{ touchAction: 'none', aspectRatio: `${WIDTH} / ${HEIGHT}`, cursor: 'crosshair', borderRadius: 6 }}
      />
      <Group gap="xs">
        <Button variant="default" size="xs" onClick={clear} disabled={!drawn}>
          {t('disputesOffice.patientSide.clear')}
        </Button>
        <Text size="xs" id="signature-hint">
          {drawn ? t('disputesOffice.patientSide.drawn') : t('disputesOffice.patientSide.drawHint')}
        </Text>
      </Group>
    </Stack>
  );
}
