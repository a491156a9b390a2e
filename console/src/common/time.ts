import { useTranslation } from 'react-i18next';
import { useConfig } from '../app/config';

/**
 * Times as people read them: in the hospital's zone (policy `settings.timeZone`, given by
 * config.json), in the console's language, with Intl. The API keeps ISO 8601.
 */
export function formatDateTime(iso: string, language: string, timeZone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(language === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).format(date);
}

/** A span in whole days, hours and minutes (the two largest that are not zero). */
export function durationParts(ms: number): { days: number; hours: number; minutes: number } {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  return { days: Math.floor(minutes / 1440), hours: Math.floor((minutes % 1440) / 60), minutes: minutes % 60 };
}

export function useTimes() {
  const { t, i18n } = useTranslation();
  const { timeZone } = useConfig();
  return {
    timeZone,
    dateTime: (iso: string) => formatDateTime(iso, i18n.language, timeZone),
    /** How long from `from` to `to` (default now), e.g. 2天3小时. */
    waited: (from: string, to?: string) => {
      const { days, hours, minutes } = durationParts((to ? Date.parse(to) : Date.now()) - Date.parse(from));
      const parts = [
        days ? t('time.days', { count: days }) : '',
        hours ? t('time.hours', { count: hours }) : '',
        !days && minutes ? t('time.minutes', { count: minutes }) : '',
      ].filter(Boolean);
      return parts.length ? parts.slice(0, 2).join(t('time.separator')) : t('time.justNow');
    },
  };
}
