/**
 * One Server-Sent-Events response with a bounded backlog. A subscriber that stops reading (a paused
 * process, a stalled network) would otherwise make every event published to its thread pile up in
 * this process's memory. Past `maxBufferBytes` of backlog the stream is destroyed and `onDrop` told;
 * the client may reconnect.
 */
import type { ServerResponse } from 'node:http';

export class SseStream {
  readonly #res: ServerResponse;
  readonly #maxBufferBytes: number;
  readonly #onDrop: () => void;
  #dropped = false;

  constructor(res: ServerResponse, maxBufferBytes: number, onDrop: () => void) {
    this.#res = res;
    this.#maxBufferBytes = maxBufferBytes;
    this.#onDrop = onDrop;
  }

  /**
   * Writes one frame, unless the subscriber is already more than `maxBufferBytes` behind: then the
   * stream is dropped instead. The backlog is measured before the frame is added, so one frame larger
   * than the bound still reaches a subscriber that keeps up; the memory held stays below the bound
   * plus one frame.
   */
  write(frame: string): void {
    if (this.#dropped || this.#res.destroyed) return;
    // What the response and its socket hold that the kernel has not taken yet.
    if (this.#res.writableLength > this.#maxBufferBytes) {
      this.#dropped = true;
      this.#res.destroy();
      this.#onDrop();
      return;
    }
    this.#res.write(frame);
  }
}
