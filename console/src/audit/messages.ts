import type { Catalogue } from '../i18n/catalogue';

/**
 * 审计人员的页面：访问报告、审计检索与完整性核验。
 * The auditors' pages: access reports, audit search and integrity checks. Part of the one message catalogue (i18n/zh-CN.ts and en.ts
 * hold it under `auditors`): every label of these pages is here, in both languages.
 */
export const auditorsZh = {
  nav: { section: '审计' },
};

export const auditorsEn: Catalogue<typeof auditorsZh> = {
  nav: { section: 'Audit' },
};
