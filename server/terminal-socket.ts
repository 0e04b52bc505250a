/**
 * One WebSocket connection: waits for the hello, attaches to the session it
 * names, then carries input, resize and acks in and output frames out.
 * Anything malformed gets an error frame naming what was wrong.
 */
import type { RawData, WebSocket } from "ws";
import type { Access, Reader } from "./access.ts";
import type { Limits } from "./config.ts";
import { SessionError, type LabSessions } from "./lab-sessions.ts";
import { log } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import {
  CloseCode,
  FRAME_HEADER_BYTES,
  FrameKind,
  PROTOCOL_VERSION,
  encodeFrame,
  encodeMessage,
  parseClientMessage,
  type ErrorCode,
  type Hello,
  type Notice,
  type ServerMessage,
} from "./protocol.ts";
import type { SessionClient, TerminalSession } from "./terminal-session.ts";

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A close frame's reason holds at most 123 bytes (ws throws beyond): cut by bytes, on a character boundary. */
function closeReason(message: string): string {
  let reason = message.slice(0, 123);
  while (Buffer.byteLength(reason) > 123) reason = reason.slice(0, -1);
  return reason;
}

export interface TerminalSocketContext {
  sessions: LabSessions;
  limits: Limits;
  access: Access;
  metrics?: Metrics;
  /** Subscribes to notices for every reader (a shared service going down or coming back). */
  onNotice?(listener: (notice: Notice) => void): () => void;
}

export function handleTerminalSocket(socket: WebSocket, context: TerminalSocketContext): void {
  const { sessions, limits, access, metrics } = context;
  let session: TerminalSession | undefined;
  let opening = false;
  let leaving = false;
  let releaseConnection: (() => void) | undefined;
  /** Who the hello's token named, once it did. */
  let attachedReader: Reader | undefined;
  let logger = log.child({});
  const unsubscribe = context.onNotice?.((notice) => {
    if (session) send(notice);
  });
  // The environment's own news (progress, a solve that ran in it): every terminal in it hears.
  const unsubscribeEnvironment = sessions.onEnvironmentEvent((environment, event) => {
    if (session?.environment.id === environment) send(event);
  });
  const send = (message: ServerMessage) => {
    if (socket.readyState === socket.OPEN) socket.send(encodeMessage(message));
  };
  const fail = (code: ErrorCode, message: string, closeCode?: number) => {
    send({ type: "error", code, message });
    if (closeCode !== undefined) socket.close(closeCode, closeReason(message));
  };
  const client: SessionClient = {
    get isOpen() {
      return socket.readyState === socket.OPEN;
    },
    output: (offset, chunks, written) => {
      if (socket.readyState !== socket.OPEN) return;
      const frame = encodeFrame(FrameKind.output, offset, chunks, Buffer.allocUnsafe);
      metrics?.bytes.out.inc(frame.byteLength - FRAME_HEADER_BYTES);
      socket.send(frame, (error) => {
        if (!error) written();
      });
    },
    repaint: (offset, data, reason, skippedBytes, written) => {
      if (socket.readyState !== socket.OPEN) return;
      metrics?.repaints.inc({ reason });
      metrics?.skippedBytes.inc(skippedBytes);
      socket.send(encodeFrame(reason === "skip" ? FrameKind.skipAhead : FrameKind.repaint, offset, data, Buffer.allocUnsafe), (error) => {
        if (!error) written?.();
      });
    },
    exit: (code, signal) => {
      send({ type: "exit", code, signal });
      socket.close(CloseCode.sessionEnded, `shell exited with code ${code}`);
    },
    replaced: () => {
      session = undefined;
      socket.close(CloseCode.replaced, "this terminal was opened in another tab");
    },
    ended: ({ code, message }) => {
      session = undefined;
      send({ type: "notice", level: "info", message });
      socket.close(code, closeReason(message));
    },
  };

  const helloTimer = setTimeout(() => {
    fail("not-hello", `no hello within ${limits.helloTimeoutMs} ms`, CloseCode.badFrame);
  }, limits.helloTimeoutMs);

  socket.on("message", (data, isBinary) => {
    if (session && isBinary) {
      const input = toBuffer(data);
      metrics?.bytes.in.inc(input.byteLength);
      const result = session.write(input);
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
    else if (message.type === "interrupt") {
      // Each Stop reads the shell's process tree: a reader sending a stream of them gets one answer a while.
      if (!attachedReader || !sessions.allowInterrupt(attachedReader)) return;
      const stopped = session.stopForeground();
      logger.info({ stopped }, "reader stopped the foreground job");
      send({
        type: "notice",
        level: "info",
        message: stopped ? `Stopped: ${stopped.slice(0, 200)} (killed, as Ctrl+C did not stop it).` : "Nothing was running in this terminal but the shell.",
      });
    }
  });

  const attach = async (hello: Hello) => {
    // The token, before anything is looked up or spawned.
    const reader: Reader | undefined = access.authenticate(hello.token);
    if (!reader) {
      metrics?.refused.inc({ reason: "unauthorized" });
      log.warn({ lab: hello.lab }, "terminal refused: no valid token");
      fail("unauthorized", "this lab server needs your access link: open the link it printed when it started (it ends in #token=…)", CloseCode.unauthorized);
      return;
    }
    logger = log.child({ reader: reader.id });
    attachedReader = reader;
    try {
      releaseConnection = sessions.connect(reader);
      if (socket.readyState !== socket.OPEN) return;
      const opened = await sessions.open(hello, reader);
      if (socket.readyState !== socket.OPEN) {
        if (!hello.session) opened.end();
        return;
      }
      session = opened;
      if (hello.session) session.resize(Math.min(hello.cols, limits.maxCols), Math.min(hello.rows, limits.maxRows));
      const { id, environment } = session;
      logger = log.child({ reader: reader.id, environment: environment.id, session: id });
      await session.attach(client, hello.session ? (hello.offset ?? 0) : undefined, ({ offset, replay }) => {
        send({ type: "welcome", version: PROTOCOL_VERSION, session: id, environment: environment.id, offset, replay });
        // A new shell in an environment the lab prepared (a continued lab's solves) starts by showing what ran.
        if (replay === "new") for (const activity of sessions.historyOf(environment)) send(activity);
      }, { skipAhead: hello.skipAhead });
      logger.info({ lab: hello.lab, resumed: Boolean(hello.session) }, "terminal attached");
    } catch (error) {
      if (error instanceof SessionError) {
        if (error.code === "limit-reached") metrics?.refused.inc({ reason: "limit-reached" });
        logger.warn({ code: error.code }, error.message);
        fail(error.code, error.message, error.closeCode);
      } else {
        logger.error({ err: error }, "terminal failed");
        fail("server-error", (error as Error).message, CloseCode.serverError);
      }
    }
  };

  socket.on("close", (code) => {
    clearTimeout(helloTimer);
    unsubscribe?.();
    unsubscribeEnvironment();
    releaseConnection?.();
    if (!session) return;
    // An explicit close by the reader ends the shell; anything else (a reconnect, a drop) may come back.
    if (code === CloseCode.normal) session.end();
    else session.detach(client, leaving ? limits.leaveGraceMs : limits.graceMs);
  });
  socket.on("error", () => socket.terminate());
}
