/**
 * One compressed frame per call, from one long-lived zstd stream: each input is written and the frame
 * ended (`ZSTD_e_end`), so every output is a whole, independent zstd frame (what ../compression.ts's
 * `compressFrame` makes), without creating a compression context per frame. A new context costs a few
 * tenths of a millisecond of this thread per call and as much again on the thread pool: per batch of spans
 * (a spans frame and an index frame) about a third of the compression's CPU. Calls are compressed one after
 * another, in order. Without zstd (Node before 22.15) or after a stream error, `compressFrame` is used.
 */
import * as zlib from 'node:zlib';
import { compressFrame, splitZstdFrames, zstdAvailable } from '../compression';

type ZstdStream = zlib.Gzip; // a Transform with flush(kind, callback), as every zlib stream
type ZstdFactory = () => ZstdStream;
const createZstdCompress = (zlib as unknown as { createZstdCompress?: ZstdFactory }).createZstdCompress;
const ZSTD_E_END = (zlib.constants as unknown as { ZSTD_e_end?: number }).ZSTD_e_end;

/** See the module comment. */
export class FrameCompressor {
  private stream: ZstdStream | undefined;
  private chunks: Buffer[] = [];
  private failed = !zstdAvailable || createZstdCompress === undefined || ZSTD_E_END === undefined;
  private chain: Promise<unknown> = Promise.resolve();

  /** The frame of `data`; frames come out in call order. */
  compress(data: Buffer): Promise<Buffer> {
    const result = this.chain.then(() => this.compressNow(data));
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Releases the stream (its compression context). Later calls start a new one. */
  close(): void {
    const stream = this.stream;
    this.stream = undefined;
    stream?.destroy();
  }

  private async compressNow(data: Buffer): Promise<Buffer> {
    if (this.failed || data.length === 0) return compressFrame(data);
    const stream = this.open();
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => reject(error);
        stream.once('error', onError);
        stream.write(data);
        stream.flush(ZSTD_E_END!, () => {
          stream.off('error', onError);
          resolve();
        });
      });
      // The frame's last bytes are pushed before the flush's callback; wait a turn or two if not.
      for (let i = 0; i < 3 && !this.frameComplete(); i++) await new Promise((resolve) => setImmediate(resolve));
      const frame = Buffer.concat(this.chunks);
      this.chunks = [];
      if (!splitZstdFrames(frame).complete) throw new Error('the zstd stream ended no whole frame');
      return frame;
    } catch {
      // A broken stream is not used again; this frame and later ones are compressed one by one.
      this.failed = true;
      this.close();
      this.chunks = [];
      return compressFrame(data);
    }
  }

  private frameComplete(): boolean {
    return this.chunks.length > 0 && splitZstdFrames(Buffer.concat(this.chunks)).complete;
  }

  private open(): ZstdStream {
    if (this.stream !== undefined) return this.stream;
    const stream = createZstdCompress!();
    stream.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    stream.on('error', () => undefined); // reported through the pending call
    this.stream = stream;
    return stream;
  }
}
