import type { Resource } from '@medplum/fhirtypes';
import { printable, type PdfFigure } from './pdf-renderer.js';

/** A column: its header, its share of the width (weights, summed over the columns), its alignment. */
export interface TableColumn {
  header: string;
  weight: number;
  align?: 'left' | 'right' | 'center';
}

/** A row: its cells in column order; `bold` for a totals row. */
export interface TableRow {
  cells: string[];
  bold?: boolean;
}

const TABLE = { size: 8.5, padX: 3, padY: 2.5, headerFill: '#eeeeee', rule: '#888888' };

/**
 * A ruled table as a hospital form prints one (orders, results, charges): a shaded header row,
 * cells wrapping inside their column, every row ruled; a row that does not fit starts a new
 * page, where the header is repeated.
 */
export function tableFigure(columns: readonly TableColumn[], rows: readonly TableRow[]): PdfFigure {
  return {
    draw(doc, frame) {
      const total = columns.reduce((sum, c) => sum + c.weight, 0);
      const widths = columns.map((c) => (frame.width * c.weight) / total);
      const xs = widths.map((_, i) => frame.left + widths.slice(0, i).reduce((a, b) => a + b, 0));
      const height = (cells: readonly string[], bold: boolean) => {
        doc.font(bold ? 'bold' : 'regular').fontSize(TABLE.size);
        return Math.max(...cells.map((c, i) => doc.heightOfString(printable(c) || ' ', { width: widths[i] - 2 * TABLE.padX }))) + 2 * TABLE.padY;
      };
      const drawRow = (cells: readonly string[], bold: boolean, fill?: string) => {
        const h = height(cells, bold);
        const y = doc.y;
        if (fill) doc.rect(frame.left, y, frame.width, h).fill(fill);
        doc.fillColor('black').font(bold ? 'bold' : 'regular').fontSize(TABLE.size);
        cells.forEach((c, i) => {
          doc.text(printable(c), xs[i] + TABLE.padX, y + TABLE.padY, { width: widths[i] - 2 * TABLE.padX, align: columns[i].align ?? 'left', lineBreak: true });
        });
        doc.lineWidth(0.5).strokeColor(TABLE.rule);
        doc.rect(frame.left, y, frame.width, h).stroke();
        for (const x of xs.slice(1)) doc.moveTo(x, y).lineTo(x, y + h).stroke();
        doc.x = frame.left;
        doc.y = y + h;
      };
      const header = columns.map((c) => c.header);
      const fits = (h: number) => doc.y + h <= doc.page.maxY();
      if (!fits(height(header, true) + height(rows[0]?.cells ?? header, false))) doc.addPage();
      drawRow(header, true, TABLE.headerFill);
      for (const row of rows) {
        if (!fits(height(row.cells, row.bold ?? false))) {
          doc.addPage();
          drawRow(header, true, TABLE.headerFill);
        }
        drawRow(row.cells, row.bold ?? false);
      }
    },
  };
}

/** The copied versions a table prints above it, so each row is traced to the manifest (R-32). */
export function versionsLine(resources: readonly Resource[]): string {
  return `复印版本 versions: ${resources.map((r) => `${r.resourceType}/${r.id} v${r.meta?.versionId ?? '1'}`).join(', ')}`;
}
