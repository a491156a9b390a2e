import 'i18next';
import type { Messages } from './zh-CN';

/** `t('…')` accepts only keys of the catalogue. */
declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation';
    resources: { translation: Messages };
    returnNull: false;
  }
}
