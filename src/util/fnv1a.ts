/**
 * 32-bit FNV-1a over the UTF-16 code units of `text`, as an unsigned integer. Not cryptographic: for stable,
 * well-spread names derived from text (subscription identifiers, client-id tags).
 */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
