/**
 * The shared key (WEB_SHARED_KEY) as the browser holds it. A link may carry it in the fragment
 * (`/#key=...`: never sent to a server or written to its logs); it is then kept for this tab only
 * and removed from the address bar, so it is not shared along with the link by accident.
 */
const STORAGE_KEY = 'avatar.accessKey';

export function readAccessKey(location: Pick<Location, 'hash' | 'pathname' | 'search'> = window.location): string | undefined {
  const fromHash = new URLSearchParams(location.hash.replace(/^#/, '')).get('key');
  if (fromHash) {
    saveAccessKey(fromHash);
    window.history.replaceState(null, '', location.pathname + location.search);
    return fromHash;
  }
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

export function saveAccessKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetAccessKey(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
