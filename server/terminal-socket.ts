/**
 * One WebSocket connection: waits for the hello, attaches to the session it
 * names, then carries input, resize and acks in and output frames out.
 * Anything malformed gets an error frame naming what was wrong.
 */
import type { RawData, WebSocket } from "ws";
import type { Limits } from "./config.ts";
import { SessionError, type LabSessions } from "./lab-sessions.ts";
import {
  CloseCode,
  FrameKind,
  PROTOCOL_VERSION,
  encodeFrame,
  encodeMessage,
  parseClientMessage,
  type ErrorCode,
  type ServerMessage,
} from "./protocol.ts";
import type { SessionClient, TerminalSession } from "./terminal-session.ts";

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function handleTerminalSocket(socket: WebSocket, sessions: LabSessions, limits: Limits): void {
  let session: TerminalSession | undefined;
  let opening = false;
  let leaving = false;
  const send = (message: ServerMessage) => {
    if (socket.readyState === socket.OPEN) socket.send(encodeMessage(message));
  };
  const fail = (code: ErrorCode, message: string, closeCode?: number) => {
    send({ type: "error", code, message });
    if (closeCode !== undefined) socket.close(closeCode, message.slice(0, 120));
  };
  const client: SessionClient = {
    output: (offset, chunks) => {
      if (socket.readyState === socket.OPEN) socket.send(encodeFrame(FrameKind.output, offset, chunks, Buffer.allocUnsafe));
    },
    repaint: (offset, data) => {
      if (socket.readyState === socket.OPEN) socket.send(encodeFrame(FrameKind.repaint, offset, data, Buffer.allocUnsafe));
    },
    exit: (code, signal) => {
      send({ type: "exit", code, signal });
      socket.close(CloseCode.sessionEnded, `shell exited with code ${code}`);
    },
    replaced: () => {
      session = undefined;
      socket.close(CloseCode.replaced, "this terminal was opened in another tab");
    },
  };

  const helloTimer = setTimeout(() => {
    fail("not-hello", `no hello within ${limits.helloTimeoutMs} ms`, CloseCode.badFrame);
  }, limits.helloTimeoutMs);

  socket.on("message", (data, isBinary) => {
    if (session && isBinary) {
      const result = session.write(toBuffer(data));
      if (!result.ok) fail("input-overflow", result.message);
      return;
    }
    if (isBinary) {
      fail("not-hello", "the first frame must be a hello", CloseCode.badFrame);
      return;
    }
    const parsed = parseClientMessage(toBuffer(data).toString("utf8"));
    if (!parsed.ok) {
      // A bad frame before the hello ends the connection; after it, the session goes on.
      fail("bad-frame", parsed.error, session ? undefined : CloseCode.badFrame);
      return;
    }
    const message = parsed.message;
    if (message.type === "hello") {
      if (session || opening) {
        fail("bad-frame", "hello was already sent");
        return;
      }
      opening = true;
      clearTimeout(helloTimer);
      void attach(message);
      return;
    }
    if (!session) {
      fail("not-hello", `"${message.type}" before hello`, CloseCode.badFrame);
      return;
    }
    if (message.type === "resize") session.resize(message.cols, message.rows);
    else if (message.type === "ack") session.ack(message.offset);
    else if (message.type === "leave") leaving = true;
  });

  const attach = async (hello: Parameters<LabSessions["open"]>[0]) => {
    try {
      const opened = await sessions.open(hello);
      if (socket.readyState !== socket.OPEN) {
        if (!hello.session) opened.end();
        return;
      }
      session = opened;
      if (hello.session) session.resize(hello.cols, hello.rows);
      const { id, environment } = session;
      await session.attach(client, hello.session ? (hello.offset ?? 0) : undefined, ({ offset, replay }) => {
        send({ type: "welcome", version: PROTOCOL_VERSION, session: id, environment: environment.id, offset, replay });
      });
    } catch (error) {
      if (error instanceof SessionError) fail(error.code, error.message, error.closeCode);
      else fail("server-error", (error as Error).message, CloseCode.serverError);
    }
  };

  socket.on("close", (code) => {
    clearTimeout(helloTimer);
    if (!session) return;
    // An explicit close by the reader ends the shell; anything else may come back.
    if (code === CloseCode.normal) session.end();
    else session.detach(client, leaving ? limits.leaveGraceMs : limits.graceMs);
  });
  socket.on("error", () => socket.terminate());
}
