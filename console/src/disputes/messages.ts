import type { Catalogue } from '../i18n/catalogue';

/**
 * 医患关系办公室（医患办）的页面：案件、封存与启封。
 * The disputes office's pages: cases, sealing and unsealing. Part of the one message catalogue (i18n/zh-CN.ts and en.ts
 * hold it under `disputesOffice`): every label of these pages is here, in both languages.
 */
export const disputesOfficeZh = {
  nav: { section: '医患办' },
};

export const disputesOfficeEn: Catalogue<typeof disputesOfficeZh> = {
  nav: { section: 'Disputes office' },
};
