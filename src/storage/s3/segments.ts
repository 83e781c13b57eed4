// The S3 driver's upload-session state. S3 objects cannot be appended to, and the
// parts of an unfinished multipart upload cannot be read back, yet a session must
// be readable (a process that continues another's session rebuilds its hash state
// by re-reading the staged bytes). So a session is a list of segments: ordinary,
// readable objects under uploads/<uuid>/, one per append, whose concatenation is
// the staged bytes. Every segment but the last is at least S3's minimum part size,
// so the final object can be assembled from them with UploadPartCopy; a smaller
// last segment is merged into the next append's segment (rewritten, at most 5 MiB).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { StorageError, type UploadState } from '../blob-store.ts';

/** S3's minimum size of a multipart part other than the last. */
export const MIN_PART = 5 * 1024 * 1024;

const Segment = z.object({ name: z.string().regex(/^\d+\.[0-9a-f]+$/), size: z.number().int().min(0) });
export type Segment = z.infer<typeof Segment>;

const SessionState = z.object({
  segments: z.array(Segment),
  /** Segments replaced by the last append; deleted by the next one, once this state is committed. */
  superseded: z.array(z.string()).default([]),
});
export type SessionState = z.infer<typeof SessionState>;

export function sessionOf(state: UploadState): SessionState {
  const parsed = SessionState.safeParse(state.driver ?? { segments: [] });
  if (!parsed.success) throw new StorageError('io', `upload ${state.uploadId}: unreadable S3 session state`);
  const total = parsed.data.segments.reduce((n, s) => n + s.size, 0);
  if (total !== state.size) throw new StorageError('io', `upload ${state.uploadId}: segments hold ${total} bytes, session says ${state.size}`);
  return parsed.data;
}

export function uploadStateOf(uploadId: string, session: SessionState): UploadState {
  const size = session.segments.reduce((n, s) => n + s.size, 0);
  return { uploadId, size, driver: { segments: session.segments, superseded: session.superseded } };
}

/**
 * A fresh name for a segment starting at `start`. The nonce keeps a writer that
 * lost its lease from overwriting a segment another writer has committed.
 */
export function segmentName(start: number): string {
  return `${start}.${randomBytes(6).toString('hex')}`;
}

/** The segments overlapping an inclusive byte range, with the range inside each. */
export function* segmentsInRange(segments: readonly Segment[], start: number, end: number): Generator<{ segment: Segment; from: number; to: number }> {
  let offset = 0;
  for (const segment of segments) {
    const segEnd = offset + segment.size - 1;
    if (segment.size > 0 && segEnd >= start && offset <= end) {
      yield { segment, from: Math.max(start, offset) - offset, to: Math.min(end, segEnd) - offset };
    }
    offset += segment.size;
    if (offset > end) return;
  }
}
