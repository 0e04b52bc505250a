/**
 * How much of a flood the server's headless terminal may leave unparsed
 * without changing what it shows (screen-state.ts). A stretch of output that
 * is only printable text, CR, LF, tab and backspace changes no lasting state
 * of a terminal (colours, modes, charsets, margins, the alternate screen:
 * all of those need an escape sequence or another control): it only writes
 * and scrolls lines. So when the last `keepLines` lines of such a stretch
 * fill the screen and the scrollback a repaint shows, everything before them
 * can be skipped: the lines it would have written scroll out of reach.
 * Parsing is most of what skip ahead costs the server (xterm's parser,
 * ~11–15 ms/MB here); a memchr-backed scan for line ends and a byte loop
 * over the skipped part cost about a tenth of that.
 */

const LF = 0x0a;
const CR = 0x0d;
const ESC = 0x1b;

/** Bytes below 0x20 that only move within or between lines: tab, backspace, LF, CR. */
function isLineControl(byte: number): boolean {
  return byte === 0x09 || byte === 0x08 || byte === LF || byte === CR;
}

/**
 * Whether `bytes` holds nothing but printable text (UTF-8 included) and line
 * controls: no ESC, no other C0 control (BEL could end an OSC string), no
 * DEL, and no C1 control as UTF-8 (U+0080–U+009F, which xterm executes).
 */
export function isPlainText(bytes: Uint8Array, end = bytes.byteLength): boolean {
  for (let i = 0; i < end; i++) {
    const byte = bytes[i]!;
    if (byte < 0x20) {
      if (!isLineControl(byte)) return false;
    } else if (byte === 0x7f) {
      return false;
    } else if (byte === 0xc2) {
      const next = bytes[i + 1];
      if (next !== undefined && next >= 0x80 && next <= 0x9f) return false;
    }
  }
  return true;
}

/**
 * Whether output ending with `tail` may leave the terminal's parser inside
 * an escape sequence (an ESC whose sequence is not finished yet): then what
 * comes next is not plain text to the parser, whatever its bytes.
 */
export function mayEndInsideEscape(tail: Uint8Array): boolean {
  const esc = tail.lastIndexOf(ESC);
  if (esc < 0) return false;
  const kind = tail[esc + 1];
  if (kind === undefined) return true;
  const rest = tail.subarray(esc + 2);
  if (kind === 0x5b) return !rest.some((byte) => byte >= 0x40 && byte <= 0x7e); // CSI: ends at a final byte
  if (kind === 0x5d || kind === 0x50 || kind === 0x5f || kind === 0x5e) return !rest.includes(0x07); // OSC, DCS, APC, PM: BEL (or ESC \, an ESC after this one)
  if (kind >= 0x20 && kind <= 0x2f) return !rest.some((byte) => byte >= 0x30 && byte <= 0x7e); // ESC with intermediates (charsets)
  return false;
}

/**
 * How many leading bytes of `bytes` (output the terminal has not parsed,
 * following output that left its parser outside any escape sequence) can be
 * skipped: everything before the last `keepLines` CR LF line ends, when that
 * part is plain text. 0 when there are fewer lines or the part is not plain.
 */
export function skippablePrefix(bytes: Uint8Array, keepLines: number): number {
  let at = bytes.byteLength;
  for (let line = 0; line < keepLines; line++) {
    at = at > 0 ? bytes.lastIndexOf(LF, at - 1) : -1;
    if (at < 0) return 0;
  }
  // Cut just after a CR LF, where the cursor is at the start of a line and no wrap is pending.
  const cut = at > 0 ? bytes.lastIndexOf(LF, at - 1) : -1;
  if (cut < 1 || bytes[cut - 1] !== CR) return 0;
  return isPlainText(bytes, cut + 1) ? cut + 1 : 0;
}
