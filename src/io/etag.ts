/**
 * What the Hub's ETag promises about a file's bytes: for files stored in LFS (weights) it is the
 * SHA-256 of the content, for files in git (configs, tokenizers) the git blob SHA-1
 * (sha1("blob <size>\0" + content)). Downloads and cached copies are checked against it, so a
 * truncated or corrupted file is fetched again rather than loaded. Other ETags (a mirror's own)
 * promise nothing checkable and are ignored.
 */
export type ContentHash = { kind: 'sha256' | 'git-sha1'; hex: string };

export function parseEtag(header: string | null | undefined): ContentHash | undefined {
  if (!header) return undefined;
  const v = header.trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
  if (/^[0-9a-f]{64}$/.test(v)) return { kind: 'sha256', hex: v };
  if (/^[0-9a-f]{40}$/.test(v)) return { kind: 'git-sha1', hex: v };
  return undefined;
}

const hex = (buf: ArrayBuffer) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

/** The hash `expected` names, computed over `bytes` (Web Crypto: the same in pages, workers and Node). */
export async function contentHash(bytes: Uint8Array, kind: ContentHash['kind']): Promise<string> {
  if (kind === 'sha256') return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  const head = new TextEncoder().encode(`blob ${bytes.length}\0`);
  const all = new Uint8Array(head.length + bytes.length);
  all.set(head);
  all.set(bytes, head.length);
  return hex(await crypto.subtle.digest('SHA-1', all));
}

export async function matchesEtag(bytes: Uint8Array, expected: ContentHash): Promise<boolean> {
  return (await contentHash(bytes, expected.kind)) === expected.hex;
}
