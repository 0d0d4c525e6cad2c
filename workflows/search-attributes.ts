import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { KK_ATTRIBUTE_NAMES } from './steps';

export * from './steps';

/**
 * kk's search attributes: the UI's run list can be filtered by them (`KkPhase = "install"`, `KkHosts = "node1"`).
 * They are indexed in clear (no payload codec touches them), so they hold names only, never a secret.
 * The embedded dev server registers them at start (runtime/dev-server.ts); a cluster needs
 * `temporal operator search-attribute create` once, and without them kk sets none.
 */
export const KK_REGISTRY_TYPE = defineSearchAttributeKey(KK_ATTRIBUTE_NAMES.registryType, SearchAttributeType.KEYWORD);
export const KK_HOSTS = defineSearchAttributeKey(KK_ATTRIBUTE_NAMES.hosts, SearchAttributeType.KEYWORD_LIST);
export const KK_PHASE = defineSearchAttributeKey(KK_ATTRIBUTE_NAMES.phase, SearchAttributeType.KEYWORD);

export const KK_SEARCH_ATTRIBUTES = [KK_REGISTRY_TYPE, KK_HOSTS, KK_PHASE] as const;

/** `temporal server start-dev --search-attribute` values. */
export function devServerSearchAttributeFlags(): string[] {
  const type = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList' } as const;
  return KK_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${type[k.type as keyof typeof type]}`]);
}

