/** The naive bridge the others are compared with: ws + node-pty, string data, no flow control. */
import * as pty from "node-pty";
import { WebSocketServer } from "ws";

const server = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2] ?? 0) });
server.on("listening", () => console.log(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`));
server.on("connection", (socket) => {
  const env = process.env as Record<string, string>;
  const shell = pty.spawn("bash", [], { name: "xterm-256color", cols: 120, rows: 40, cwd: process.cwd(), env });
  shell.onData((data) => socket.send(data));
  shell.onExit(() => socket.close());
  socket.on("message", (data) => shell.write(data.toString()));
  socket.on("close", () => shell.kill());
});
process.on("SIGTERM", () => process.exit(0));
