import '@mantine/core/styles.css';
import './console.css';
import { MantineProvider } from '@mantine/core';
import { QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App, queries } from './app/App';
import { ConfigContext, loadConfig } from './app/config';
import { cssVariablesResolver, theme } from './app/theme';
import { initI18n } from './i18n';
import { setNonce } from 'get-nonce';

/**
 * Starts the console: reads config.json, sets the language (中文 unless this browser chose
 * English), and renders. Styles Mantine writes carry the nonce of the page's CSP (the server
 * puts it in `<meta name="csp-nonce">`): no inline script and no unsigned inline style.
 */
const nonce = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? '';
// Mantine's Drawer and Modal lock scrolling with a style tag written by react-remove-scroll, which
// takes its nonce from get-nonce: without it the CSP blocks the tag.
setNonce(nonce);
const root = createRoot(document.getElementById('root') as HTMLElement);
initI18n();

loadConfig().then(
  (config) =>
    root.render(
      <StrictMode>
        <MantineProvider theme={theme} cssVariablesResolver={cssVariablesResolver} getStyleNonce={() => nonce}>
          <ConfigContext.Provider value={config}>
            <QueryClientProvider client={queries}>
              <App />
            </QueryClientProvider>
          </ConfigContext.Provider>
        </MantineProvider>
      </StrictMode>,
    ),
  (e: unknown) => {
    const p = document.createElement('p');
    p.textContent = `ChartWarden 控制台无法读取配置 / The console could not read its configuration: ${e instanceof Error ? e.message : String(e)}`;
    document.getElementById('root')?.replaceChildren(p);
  },
);
