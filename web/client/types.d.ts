// Chromium exposes MediaStreamTrackProcessor on windows (the spec keeps it to workers); lib.dom does not declare it.
declare class MediaStreamTrackProcessor<T extends AudioData | VideoFrame = any> {
  constructor(init: { track: MediaStreamTrack; maxBufferSize?: number })
  readonly readable: ReadableStream<T>
}
