/**
 * A request's JSON body, for every API route: refused past a byte limit by its
 * Content-Length before any of it is read, or as it arrives. The request is
 * left paused, not destroyed, so the refusal still reaches the client (the
 * connection then closes). Each route words the refusal its own way.
 */
import type { IncomingMessage } from "node:http";

export class BodyTooLargeError extends Error {}
export class BodyNotJsonError extends Error {}

/** The parsed body; an empty body is `empty` (e.g. {} for a body that only names optional things). */
export function readJsonBody(request: IncomingMessage, maxBytes: number, empty?: unknown): Promise<unknown> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > maxBytes) return Promise.reject(new BodyTooLargeError(`the request body is over ${maxBytes} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      request.off("data", onData);
      request.pause();
      reject(new BodyTooLargeError(`the request body is over ${maxBytes} bytes`));
    };
    request.on("data", onData);
    request.on("error", reject);
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (text === "" && empty !== undefined) return resolve(empty);
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new BodyNotJsonError(`the body must be JSON: ${(error as Error).message}`));
      }
    });
  });
}
