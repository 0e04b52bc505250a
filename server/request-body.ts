/**
 * A request's JSON body, for every API route: refused past a byte limit by its
 * Content-Length before any of it is read, or as it arrives. The request is
 * left paused, not destroyed, so the refusal still reaches the client, and
 * the response says `connection: close`: what is left of the body is still
 * on its way, so the connection cannot carry another request. Each route
 * words the refusal its own way.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export class BodyTooLargeError extends Error {}
export class BodyNotJsonError extends Error {}

/** The parsed body; an empty body is `empty` (e.g. {} for a body that only names optional things). */
export function readJsonBody(request: IncomingMessage, response: ServerResponse, maxBytes: number, empty?: unknown): Promise<unknown> {
  const tooLarge = () => {
    response.setHeader("connection", "close");
    return new BodyTooLargeError(`the request body is over ${maxBytes} bytes`);
  };
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > maxBytes) return Promise.reject(tooLarge());
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
      reject(tooLarge());
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
