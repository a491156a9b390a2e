import i18next from 'i18next';
import { initReactI18next, useTranslation } from 'react-i18next';
import { en } from './en';
import { zhCN, type Messages } from './zh-CN';

/**
 * The console's one message catalogue: `zh-CN.ts` (the default) and `en.ts`, the same keys
 * (a key missing from either does not compile, and `t('…')` of a key that is not there does not
 * either: i18next.d.ts). Components never write a label themselves.
 */
export const LANGUAGES = ['zh-CN', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

const KEY = 'chartwarden.console.language';

export function storedLanguage(): Language {
  const stored = localStorage.getItem(KEY);
  return (LANGUAGES as readonly string[]).includes(stored ?? '') ? (stored as Language) : 'zh-CN';
}

export function initI18n(language: Language = storedLanguage()) {
  void i18next.use(initReactI18next).init({
    resources: { 'zh-CN': { translation: zhCN }, en: { translation: en } },
    lng: language,
    fallbackLng: false,
    interpolation: { escapeValue: false },
    returnNull: false,
  });
  document.documentElement.lang = language;
  return i18next;
}

export async function setLanguage(language: Language): Promise<void> {
  localStorage.setItem(KEY, language);
  await i18next.changeLanguage(language);
  document.documentElement.lang = language;
}

/** Groups of labels whose keys are values the server sends (a status, a requester type…). */
export type LabelGroup = 'status' | 'requesterType' | 'evidence' | 'deliveryMethod' | 'step' | 'roles' | 'errorCodes';

/**
 * The label of a value the server sends, from `group` of the catalogue; a value the catalogue
 * does not know (a newer server, a hospital's own role) is shown as sent.
 */
export function useLabel(): (group: LabelGroup, value: string) => string {
  const { t, i18n } = useTranslation();
  return (group, value) => {
    // A value may hold dots (`copy.wrong-state`): the catalogue nests them.
    let node: unknown = (i18n.language === 'en' ? en : zhCN)[group];
    for (const part of value.split('.')) node = typeof node === 'object' && node !== null && Object.hasOwn(node, part) ? (node as Record<string, unknown>)[part] : undefined;
    return typeof node === 'string' ? t(`${group}.${value}` as never) : value;
  };
}

export type { Messages };
