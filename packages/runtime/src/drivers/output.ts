const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The longest prefix of `bytes` that is at most `maxBytes` long and does not end inside a UTF-8
 * sequence, so that cutting output never leaves half a character behind.
 */
export function utf8Prefix(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length <= maxBytes) return bytes;
  let end = Math.max(0, maxBytes);
  // Step back over continuation bytes (10xxxxxx) to the first byte of the cut character.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

/**
 * One output stream of one execution (stdout or stderr), kept up to `maxBytes` UTF-8 bytes.
 * What does not fit is dropped and flagged (`SandboxLimits.maxOutputBytes`); memory use is
 * bounded by `maxBytes` whatever the sandbox writes.
 */
export class BoundedOutput {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  private cut = false;

  /** @param maxBytes - Most bytes kept. */
  constructor(private readonly maxBytes: number) {}

  /** Whether something was dropped. */
  get truncated(): boolean {
    return this.cut;
  }

  /** Bytes kept so far. */
  get bytes(): number {
    return this.size;
  }

  /** Appends raw bytes; `false` when (part of) them did not fit. */
  pushBytes(chunk: Uint8Array): boolean {
    if (chunk.length === 0) return !this.cut;
    if (this.cut) return false;
    const room = this.maxBytes - this.size;
    if (chunk.length <= room) {
      // Copy: the caller may reuse its buffer (child-process chunks are pooled).
      this.chunks.push(chunk.slice());
      this.size += chunk.length;
      return true;
    }
    const kept = utf8Prefix(chunk, room);
    if (kept.length > 0) {
      this.chunks.push(kept.slice());
      this.size += kept.length;
    }
    this.cut = true;
    return false;
  }

  /** Appends text as UTF-8; `false` when (part of) it did not fit. */
  pushText(text: string): boolean {
    if (this.cut) return false;
    return this.pushBytes(encoder.encode(text));
  }

  /** The kept output as text (invalid UTF-8 from a process becomes U+FFFD). */
  text(): string {
    if (this.chunks.length === 0) return '';
    const all = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return decoder.decode(all);
  }
}

/** Monotonic milliseconds for durations and resource deadlines (never logic time). */
export function monotonicMs(): number {
  return performance.now();
}
