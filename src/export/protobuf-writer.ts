/**
 * A small protobuf writer for the OTLP profiles encoder: one growable buffer, fields written in place,
 * length-delimited messages closed by back-patching their length. Only what the encoder needs (varint,
 * fixed64, bytes, strings, packed varints), no reflection, no per-field objects: a profile of thousands
 * of samples is written with a handful of allocations (the buffer's growth steps).
 *
 * Numbers are JavaScript numbers: integers up to 2^53 exactly, which covers every index, count, line,
 * address V8 reports, and Unix nanoseconds to within 256 ns (the profiler's own resolution is 1 µs).
 */

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;
const TWO_32 = 0x1_0000_0000;

/** The value of each hex digit by its char code (either case); other characters read as 0 (ids are validated upstream). */
const HEX_VALUES = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX_VALUES[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUES[0x41 + i] = HEX_VALUES[0x61 + i] = 10 + i;

/** Bytes the varint encoding of a non-negative integer takes. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** See the module comment. */
export class ProtobufWriter {
  private buffer: Buffer;
  private position = 0;
  /** Start offsets of the length-delimited fields still open; each reserved one length byte. */
  private readonly open: number[] = [];

  constructor(initialCapacity = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(Math.max(64, initialCapacity));
  }

  /** The bytes written so far (a view, not a copy). Every opened field must be closed first. */
  finish(): Buffer {
    if (this.open.length > 0) throw new Error(`protobuf writer: ${this.open.length} field(s) not closed`);
    return this.buffer.subarray(0, this.position);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.position;
  }

  /** A view of the bytes in [start, end) (not a copy; valid until the next write). */
  view(start: number, end: number): Buffer {
    return this.buffer.subarray(start, end);
  }

  /** Forgets every byte from `position` on (a record that failed half-way). */
  truncate(position: number): void {
    if (this.open.length > 0) throw new Error('protobuf writer: truncate with open fields');
    this.position = Math.min(this.position, Math.max(0, position));
  }

  /** Removes the first `bytes` bytes, moving the rest to the front. */
  dropFront(bytes: number): void {
    if (this.open.length > 0) throw new Error('protobuf writer: dropFront with open fields');
    if (bytes <= 0) return;
    if (bytes >= this.position) {
      this.position = 0;
      return;
    }
    this.buffer.copyWithin(0, bytes, this.position);
    this.position -= bytes;
  }

  /**
   * Copies `value` byte by byte to `at` (room already ensured) while it is ASCII, without calling into native
   * code: the end position, or -1 at the first non-ASCII character (the caller then writes it as UTF-8 over it).
   */
  private asciiAt(value: string, at: number): number {
    const buffer = this.buffer;
    const length = value.length;
    let position = at;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      if (code >= 0x80) return -1;
      buffer[position++] = code;
    }
    return position;
  }

  /** Text appended as UTF-8, no tag or length (the same growable buffer used for JSON). */
  text(value: string): void {
    const length = value.length;
    // Short text byte by byte (no call into native code) while it is ASCII; the rest through Buffer.write.
    if (length <= 64) {
      this.ensure(length);
      const end = this.asciiAt(value, this.position);
      if (end >= 0) {
        this.position = end;
        return;
      }
    }
    this.ensure(length * 3);
    this.position += this.buffer.write(value, this.position, 'utf8');
  }

  /** A JSON string literal of `value`, as JSON.stringify writes it, as UTF-8. */
  jsonString(value: string): void {
    const length = value.length;
    this.ensure(length + 2);
    const buffer = this.buffer;
    let position = this.position;
    buffer[position++] = 0x22;
    for (let i = 0; i < length; i++) {
      const code = value.charCodeAt(i);
      // Anything JSON escapes, and anything not ASCII: JSON.stringify's own text.
      if (code < 0x20 || code === 0x22 || code === 0x5c || code >= 0x7f) {
        this.text(JSON.stringify(value));
        return;
      }
      buffer[position++] = code;
    }
    buffer[position++] = 0x22;
    this.position = position;
  }

  /** A number as JSON.stringify writes it (NaN and infinities as `null`), as text. */
  jsonNumber(value: number): void {
    if (Number.isInteger(value) && value >= 0 && value < TWO_32) this.decimal(value, 0);
    else this.text(Number.isFinite(value) ? String(value) : 'null');
  }

  /** A non-negative integer below 2^32 in decimal, left-padded with zeros to `width` digits. */
  decimal(value: number, width: number): void {
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    if (digits < width) digits = width;
    this.ensure(digits);
    const buffer = this.buffer;
    let position = this.position + digits;
    this.position = position;
    for (let i = 0; i < digits; i++) {
      buffer[--position] = 0x30 + (value % 10);
      value = Math.floor(value / 10);
    }
  }

  /** Field `field` as a varint; zero (the proto3 default) is not written unless `always` (a oneof member). */
  uint(field: number, value: number, always = false): void {
    if (value === 0 && !always) return;
    this.tag(field, WIRE_VARINT);
    this.varint(value);
  }

  /** An int64 field that may be negative (two's complement, 10 bytes when negative); zero only if `always`. */
  int(field: number, value: number, always = false): void {
    if (value === 0 && !always) return;
    if (value >= 0) return this.uint(field, value, always);
    this.tag(field, WIRE_VARINT);
    let big = BigInt.asUintN(64, BigInt(Math.trunc(value)));
    this.ensure(10);
    while (big >= 0x80n) {
      this.buffer[this.position++] = Number(big & 0x7fn) | 0x80;
      big >>= 7n;
    }
    this.buffer[this.position++] = Number(big);
  }

  bool(field: number, value: boolean): void {
    if (value) this.uint(field, 1);
  }

  /** A fixed64 field; zero is not written. A bigint is written exactly. */
  fixed64(field: number, value: number | bigint): void {
    if (value === 0 || value === 0n) return;
    this.tag(field, WIRE_FIXED64);
    if (typeof value === 'number') return this.fixed64Value(value);
    this.ensure(8);
    this.buffer.writeBigUInt64LE(BigInt.asUintN(64, value), this.position);
    this.position += 8;
  }

  /** A double field; zero is not written unless `always`. */
  double(field: number, value: number, always = false): void {
    if (value === 0 && !always) return;
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    this.buffer.writeDoubleLE(value, this.position);
    this.position += 8;
  }

  /** A string field; the empty string is not written unless `always`. */
  string(field: number, value: string, always = false): void {
    if (value.length === 0 && !always) return;
    this.tag(field, WIRE_LEN);
    const length = value.length;
    // Short ASCII strings (attribute keys and values, names) byte by byte: no call into native code.
    if (length < 0x80) {
      this.ensure(length + 1);
      const end = this.asciiAt(value, this.position + 1);
      if (end >= 0) {
        this.buffer[this.position] = length;
        this.position = end;
        return;
      }
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.ensure(bytes);
    this.position += this.buffer.write(value, this.position, bytes, 'utf8');
  }

  /** A bytes field holding the bytes a lowercase or uppercase hex string spells (trace and span ids). */
  hexBytes(field: number, hex: string): void {
    const length = hex.length >> 1;
    this.tag(field, WIRE_LEN);
    this.varint(length);
    this.ensure(length);
    const buffer = this.buffer;
    let position = this.position;
    for (let i = 0; i < hex.length - 1; i += 2) buffer[position++] = (HEX_VALUES[hex.charCodeAt(i) & 0x7f]! << 4) | HEX_VALUES[hex.charCodeAt(i + 1) & 0x7f]!;
    this.position = position;
  }

  /** A fixed32 field, written even when zero. */
  fixed32(field: number, value: number): void {
    this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    this.buffer.writeUInt32LE(value >>> 0, this.position);
    this.position += 4;
  }

  /** A fixed64 field from its two 32-bit halves (exact beyond 2^53), written even when zero. */
  fixed64Parts(field: number, low: number, high: number): void {
    this.tag(field, WIRE_FIXED64);
    this.ensure(8);
    const buffer = this.buffer;
    let position = this.position;
    for (let i = 0; i < 4; i++, low >>>= 8) buffer[position++] = low & 0xff;
    for (let i = 0; i < 4; i++, high >>>= 8) buffer[position++] = high & 0xff;
    this.position = position;
  }

  /** A bytes field; empty is not written unless `always`. */
  bytes(field: number, value: Uint8Array, always = false): void {
    if (value.length === 0 && !always) return;
    this.tag(field, WIRE_LEN);
    this.varint(value.length);
    this.ensure(value.length);
    this.buffer.set(value, this.position);
    this.position += value.length;
  }

  /** A bytes field holding `source[start, end)`, written even when empty (no view allocated). */
  bytesRange(field: number, source: Buffer, start: number, end: number): void {
    this.tag(field, WIRE_LEN);
    this.varint(end - start);
    this.rawRange(source, start, end);
  }

  /** `source[start, end)` appended as it is (no view allocated). */
  rawRange(source: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    this.position += source.copy(this.buffer, this.position, start, end);
  }

  /** Bytes that are already a protobuf encoding of fields, appended as they are. */
  raw(value: Uint8Array): void {
    const length = value.length;
    this.ensure(length);
    // Short pieces (cached keys) byte by byte: cheaper than a call into native code.
    if (length <= 64) {
      const buffer = this.buffer;
      let position = this.position;
      for (let i = 0; i < length; i++) buffer[position++] = value[i]!;
      this.position = position;
      return;
    }
    this.buffer.set(value, this.position);
    this.position += length;
  }

  /** A packed repeated varint field over `values[from, to)`; nothing when the range is empty. */
  packed(field: number, values: ArrayLike<number>, from = 0, to = values.length): void {
    if (to <= from) return;
    this.begin(field);
    for (let i = from; i < to; i++) this.varint(values[i]!);
    this.end();
  }

  /** A packed repeated varint field holding one value (written even when zero). */
  packedSingle(field: number, value: number): void {
    this.tag(field, WIRE_LEN);
    this.varint(varintSize(value));
    this.varint(value);
  }

  /** A packed repeated fixed64 field. */
  packedFixed64(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    this.tag(field, WIRE_LEN);
    this.varint(values.length * 8);
    for (let i = 0; i < values.length; i++) this.fixed64Value(values[i]!);
  }

  /** Opens a length-delimited field (an embedded message); close it with {@link end}. */
  begin(field: number): void {
    this.tag(field, WIRE_LEN);
    this.ensure(1);
    this.open.push(this.position);
    this.position += 1;
  }

  /** An embedded message with no fields (a table's zero entry). */
  empty(field: number): void {
    this.tag(field, WIRE_LEN);
    this.ensure(1);
    this.buffer[this.position++] = 0;
  }

  /** Closes the innermost open field, writing its length where {@link begin} reserved one byte. */
  end(): void {
    const start = this.open.pop();
    if (start === undefined) throw new Error('protobuf writer: end() without begin()');
    const length = this.position - start - 1;
    if (length < 0x80) {
      this.buffer[start] = length;
      return;
    }
    // The length needs more than the one byte reserved: move the body up to make room.
    const extra = varintSize(length) - 1;
    this.ensure(extra);
    this.buffer.copyWithin(start + 1 + extra, start + 1, this.position);
    const end = this.position + extra;
    this.position = start;
    this.varint(length);
    this.position = end;
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private varint(value: number): void {
    this.ensure(10);
    const buffer = this.buffer;
    let position = this.position;
    while (value >= 0x80) {
      buffer[position++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buffer[position++] = value;
    this.position = position;
  }

  private fixed64Value(value: number): void {
    this.ensure(8);
    const high = Math.floor(value / TWO_32);
    this.buffer.writeUInt32LE(value - high * TWO_32, this.position);
    this.buffer.writeUInt32LE(high >>> 0, this.position + 4);
    this.position += 8;
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}
