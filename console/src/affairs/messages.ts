import type { Catalogue } from '../i18n/catalogue';

/**
 * 医务处的页面：审批收件箱。
 * Medical affairs' pages: the approvals inbox. Part of the one message catalogue (i18n/zh-CN.ts and en.ts
 * hold it under `medicalAffairs`): every label of these pages is here, in both languages.
 */
export const medicalAffairsZh = {
  nav: { section: '医务处' },
};

export const medicalAffairsEn: Catalogue<typeof medicalAffairsZh> = {
  nav: { section: 'Medical affairs' },
};
