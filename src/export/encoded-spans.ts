/**
 * Finished spans held as their encodings (protobuf for OTLP, JSON for the store) rather than as span
 * objects. A span is encoded once, when it ends, into one growable byte buffer shared by the whole queue;
 * what stays per span is three small integers and a group number. So a span object dies young (it is no
 * longer kept alive across scavenges by the export queue, promoted, and collected by a major GC), and a
 * batch is assembled from bytes that are already there: no encoding turn of hundreds of spans at export.
 *
 * Resource and instrumentation scope are not part of a span's encoding: they are written once per batch,
 * from the batch's groups (by identity, as the SDK shares those objects).
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { ProtobufWriter } from './protobuf-writer';

export type SpanResource = ReadableSpan['resource'];
export type SpanScope = ReadableSpan['instrumentationScope'];

/** A resource and a scope that spans of a batch share. */
export interface SpanGroup {
  readonly resource: SpanResource;
  readonly scope: SpanScope;
}

/** How a span is encoded for one destination. */
export interface SpanEncoding {
  /** Appends the span's encoding (what the destination copies into its request) to `out`. */
  body(span: ReadableSpan, out: ProtobufWriter): void;
  /** Optionally appends a second, separate part after the body (the store's roots-index row). */
  side?(span: ReadableSpan, out: ProtobufWriter): void;
}

/** Span indices of a batch by resource, then by scope, each in order of first appearance. */
export interface ResourceGroup {
  resource: SpanResource;
  scopes: Array<{ scope: SpanScope; spans: number[] }>;
}

/** Spans taken from an {@link EncodedSpanQueue} for one export: their bytes and groups, no span object. */
export class EncodedSpanBatch {
  constructor(
    private readonly bytes: Buffer,
    private readonly bodyEnds: readonly number[],
    private readonly ends: readonly number[],
    private readonly groupOf: readonly number[],
    /** The groups `groupOf` numbers. */
    readonly groups: readonly SpanGroup[],
  ) {}

  /** Spans in the batch (what exporter metrics count). */
  get length(): number {
    return this.ends.length;
  }

  /** The i-th span's encoding. */
  body(i: number): Buffer {
    return this.bytes.subarray(i === 0 ? 0 : this.ends[i - 1]!, this.bodyEnds[i]!);
  }

  /** Appends the i-th span's encoding to `out` as a bytes field (`field` >= 0) or as it is (`field` < 0). */
  writeBody(i: number, out: ProtobufWriter, field = -1): void {
    const start = i === 0 ? 0 : this.ends[i - 1]!;
    if (field >= 0) out.bytesRange(field, this.bytes, start, this.bodyEnds[i]!);
    else out.rawRange(this.bytes, start, this.bodyEnds[i]!);
  }

  /** The i-th span's side part (empty when its encoding wrote none). */
  side(i: number): Buffer {
    return this.bytes.subarray(this.bodyEnds[i]!, this.ends[i]!);
  }

  /** The first byte of the i-th span's side part; -1 when it has none. */
  sideMarker(i: number): number {
    return this.bodyEnds[i]! < this.ends[i]! ? this.bytes[this.bodyEnds[i]!]! : -1;
  }

  /** The i-th span's side part from its `skip`-th byte, as UTF-8 text (no view allocated). */
  sideText(i: number, skip = 0): string {
    return this.bytes.toString('utf8', this.bodyEnds[i]! + skip, this.ends[i]!);
  }

  /** The i-th span's group. */
  groupOfSpan(i: number): SpanGroup {
    return this.groups[this.groupOf[i]!]!;
  }

  /** Bytes of all the bodies together (for sizing a request). */
  get byteLength(): number {
    return this.bytes.length;
  }

  /** Span indices by resource, then scope, in order of first appearance (as upstream's serializers group them). */
  byResource(): ResourceGroup[] {
    const resources: ResourceGroup[] = [];
    const scopeLists: Array<number[] | undefined> = new Array(this.groups.length);
    for (let i = 0; i < this.groupOf.length; i++) {
      const g = this.groupOf[i]!;
      let list = scopeLists[g];
      if (list === undefined) {
        list = [];
        scopeLists[g] = list;
        const { resource, scope } = this.groups[g]!;
        let entry: ResourceGroup | undefined;
        for (const r of resources) if (r.resource === resource) entry = r;
        if (entry === undefined) {
          entry = { resource, scopes: [] };
          resources.push(entry);
        }
        entry.scopes.push({ scope, spans: list });
      }
      list.push(i);
    }
    return resources;
  }
}

/**
 * The queue of encoded spans: {@link push} encodes a span at its end, {@link take} hands the oldest spans
 * over as one batch and moves the rest to the front of the buffer.
 */
export class EncodedSpanQueue {
  private readonly out = new ProtobufWriter(64 * 1024);
  private bodyEnds: number[] = [];
  private ends: number[] = [];
  private groupOf: number[] = [];
  private groups: SpanGroup[] = [];
  private lastGroup = -1;

  constructor(private readonly encoding: SpanEncoding) {}

  /** Spans held. */
  get length(): number {
    return this.ends.length;
  }

  /** Bytes held. */
  get byteLength(): number {
    return this.out.length;
  }

  /** Encodes and holds `span`. When its encoding throws, nothing of it is held and the error is thrown. */
  push(span: ReadableSpan): void {
    const out = this.out;
    const start = out.length;
    let bodyEnd: number;
    try {
      this.encoding.body(span, out);
      bodyEnd = out.length;
      this.encoding.side?.(span, out);
    } catch (error) {
      out.truncate(start);
      throw error;
    }
    this.bodyEnds.push(bodyEnd);
    this.ends.push(out.length);
    this.groupOf.push(this.groupIndex(span.resource, span.instrumentationScope));
  }

  /** The oldest `count` spans (all if fewer), removed from the queue. */
  take(count: number): EncodedSpanBatch {
    const n = Math.min(count, this.ends.length);
    const end = n === 0 ? 0 : this.ends[n - 1]!;
    const bytes = Buffer.from(this.out.view(0, end));
    const bodyEnds = this.bodyEnds.splice(0, n);
    const ends = this.ends.splice(0, n);
    const groupOf = this.groupOf.splice(0, n);
    const batch = new EncodedSpanBatch(bytes, bodyEnds, ends, groupOf, this.groups);
    this.out.dropFront(end);
    const rest = this.ends.length;
    for (let i = 0; i < rest; i++) {
      this.bodyEnds[i]! -= end;
      this.ends[i]! -= end;
    }
    // Renumber the remaining spans' groups, so groups no span uses any more are not kept.
    const groups: SpanGroup[] = [];
    const renumbered = new Map<number, number>();
    for (let i = 0; i < rest; i++) {
      const old = this.groupOf[i]!;
      let g = renumbered.get(old);
      if (g === undefined) {
        g = groups.length;
        groups.push(this.groups[old]!);
        renumbered.set(old, g);
      }
      this.groupOf[i] = g;
    }
    this.groups = groups;
    this.lastGroup = -1;
    return batch;
  }

  private groupIndex(resource: SpanResource, scope: SpanScope): number {
    const last = this.lastGroup;
    if (last >= 0) {
      const group = this.groups[last]!;
      if (group.resource === resource && group.scope === scope) return last;
    }
    for (let i = 0; i < this.groups.length; i++) {
      const group = this.groups[i]!;
      if (group.resource === resource && group.scope === scope) return (this.lastGroup = i);
    }
    this.groups.push({ resource, scope });
    return (this.lastGroup = this.groups.length - 1);
  }
}
