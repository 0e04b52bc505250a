/**
 * Just enough shell reading for two jobs: the importer deciding whether a
 * post's shell block changes state (so a checkpoint follows it), and the test
 * comparing a page's Run blocks with its lab's solve scripts. Not a shell
 * parser: it splits a script into simple commands (quotes, `$(…)`, line
 * continuations, comments and here-documents understood) and judges each by
 * its command name, subcommand and redirections.
 */

/**
 * The simple commands of a script, in order: split at newlines, `;`, `&&`,
 * `||` and `&` outside quotes and `$(…)`; comments dropped; whitespace
 * collapsed; a pipeline stays one command; a here-document's body stays with
 * its command (`cat > f <<'EOF'\nbody\nEOF`).
 */
export function simpleCommands(script: string): string[] {
  const commands: string[] = [];
  let current = "";
  let quote: "'" | '"' | undefined;
  let depth = 0; // inside $( … ) or ( … )
  const heredocs: { word: string; strip: boolean }[] = [];
  const lines = script.replace(/\r\n/g, "\n");
  const push = () => {
    const text = current.replace(/[ \t]+/g, " ").trim();
    if (text) commands.push(text);
    current = "";
  };
  for (let i = 0; i < lines.length; i++) {
    const char = lines[i]!;
    if (quote) {
      current += char;
      if (char === "\\" && quote === '"') current += lines[++i] ?? "";
      else if (char === quote) quote = undefined;
      continue;
    }
    if (char === "\\") {
      const next = lines[i + 1];
      if (next === "\n") {
        current += " "; // line continuation
        i++;
      } else current += char + (next ?? ""), i++;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      current += char;
      continue;
    }
    if (char === "#" && /(^|[\s;&|()])$/.test(current)) {
      while (i + 1 < lines.length && lines[i + 1] !== "\n") i++; // a comment, to the end of the line
      continue;
    }
    if (char === "(") depth++;
    if (char === ")") depth = Math.max(0, depth - 1);
    if (depth === 0 && char === "<" && lines[i + 1] === "<" && lines[i + 2] !== "<") {
      const match = /^<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2/.exec(lines.slice(i));
      if (match) {
        heredocs.push({ word: match[3]!, strip: match[1] === "-" });
        current += match[0];
        i += match[0].length - 1;
        continue;
      }
    }
    if (char === "\n") {
      // Here-document bodies follow the line that opened them, verbatim.
      for (const { word, strip } of heredocs.splice(0)) {
        const body: string[] = [];
        while (i + 1 < lines.length) {
          const end = lines.indexOf("\n", i + 1);
          const line = lines.slice(i + 1, end === -1 ? undefined : end);
          i = end === -1 ? lines.length : end;
          if ((strip ? line.replace(/^\t+/, "") : line) === word) break;
          body.push(line.replace(/\s+$/, ""));
        }
        current = `${current.replace(/[ \t]+/g, " ").trim()}\n${[...body, word].join("\n")}`;
        commands.push(current);
        current = "";
      }
      if (depth === 0) push();
      else current += " ";
      continue;
    }
    if (depth === 0 && (char === ";" || char === "&" || (char === "|" && lines[i + 1] === "|"))) {
      const double = lines[i + 1] === char;
      if (char === "&" && (lines[i + 1] === ">" || /[<>]$/.test(current))) {
        current += char; // &> or 2>&1: a redirection, not a separator
        continue;
      }
      if (char === ";" && double) i++; // ;; in case
      if (double && char !== ";") i++;
      push();
      continue;
    }
    current += char;
  }
  push();
  return commands;
}

/** Shell words of one simple command (quotes removed); good enough to read a command's name and flags. */
export function words(command: string): string[] {
  const result: string[] = [];
  let word = "";
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const char = command[i]!;
    if (quote) {
      if (char === quote) quote = undefined;
      else word += char;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) result.push(word);
      word = "";
      inWord = false;
    } else {
      word += char;
      inWord = true;
    }
  }
  if (inWord) result.push(word);
  return result;
}

/** Commands that only read (the heuristic's allow-list); anything else is taken to change state. */
const READ_ONLY = new Set(
  (
    "ls ll la tree cat bat less more head tail grep egrep fgrep rg wc echo printf pwd whoami id groups uname hostnamectl date env printenv " +
    "which type whereis file stat du df free ps pgrep top htop uptime ss netstat lsof lsblk findmnt dig nslookup host ping tracepath " +
    "realpath readlink dirname basename test [ [[ true false sleep uniq cut tr column jq yq diff cmp md5sum sha1sum sha256sum b2sum base64 " +
    "xxd hexdump od strings man help history watch cd pushd popd export unset alias clear exit lscpu nproc getent getfacl " +
    "systemd-analyze nixos-option nixos-version nix-info awk cut tac nl fold fmt seq expr bc"
  ).split(" "),
);

/** Words that only open or close a compound command; the commands inside are judged on their own. */
const KEYWORDS = new Set(["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac", "{", "}", "!", "time"]);

/** Subcommands (the last non-flag word among the first two after the command) that only read. */
const READ_VERBS = new Set(["ls", "list", "info", "inspect", "version", "ps", "logs", "images", "top", "stats", "show", "get", "describe", "explain", "status", "health"]);

const SUBCOMMAND_RULES: Record<string, (args: string[]) => boolean> = {
  systemctl: (args) => ["status", "show", "cat", "list-units", "list-unit-files", "list-timers", "list-dependencies", "is-active", "is-enabled", "is-failed"].includes(firstWord(args) ?? ""),
  journalctl: () => true,
  git: (args) => ["status", "log", "diff", "show", "blame", "ls-files", "rev-parse", "grep", "shortlog", "describe"].includes(firstWord(args) ?? ""),
  kubectl: (args) => ["get", "describe", "logs", "explain", "version", "api-resources", "api-versions", "cluster-info", "top", "auth", "config"].includes(firstWord(args) ?? "") && !args.includes("set-context") && !args.includes("use-context"),
  etcdctl: (args) => ["get", "endpoint", "version", "check"].includes(firstWord(args) ?? "") || (firstWord(args) === "member" && args.includes("list")),
  nix: (args) => ["eval", "search", "show-config", "path-info", "why-depends", "log", "derivation", "hash"].includes(firstWord(args) ?? "") || (firstWord(args) === "flake" && ["show", "metadata", "info"].some((verb) => args.includes(verb))),
  "nix-instantiate": (args) => args.includes("--eval") || args.includes("--parse"),
  "nix-store": (args) => args.some((arg) => arg === "-q" || arg === "--query" || arg === "--verify"),
  openssl: (args) =>
    ["verify", "s_client", "version", "list", "asn1parse", "crl"].includes(firstWord(args) ?? "") ||
    (firstWord(args) === "x509" && !args.includes("-out") && !args.includes("-req")) ||
    (firstWord(args) === "req" && args.includes("-noout")),
  curl: (args) => !args.some((arg) => /^(-[a-zA-Z]*[oOXdTF]|--(output|remote-name|request|data.*|upload-file|form|json))$/.test(arg)),
  find: (args) => !args.some((arg) => ["-delete", "-exec", "-execdir", "-ok", "-fprint", "-fprintf"].includes(arg)),
  sed: (args) => !args.some((arg) => /^-[a-zA-Z]*i|^--in-place/.test(arg)),
  sort: (args) => !args.some((arg) => /^-[a-zA-Z]*o|^--output/.test(arg)),
  ip: (args) => !args.some((arg) => ["add", "del", "delete", "set", "flush", "replace", "change", "append"].includes(arg)),
  hostname: (args) => args.filter((arg) => !arg.startsWith("-")).length === 0,
  mount: (args) => args.length === 0 || args.every((arg) => arg.startsWith("-") && arg !== "-o"),
  command: (args) => args[0] === "-v" || args[0] === "-V",
};
for (const client of ["ctr", "nerdctl", "docker", "podman", "crictl", "runc"]) {
  SUBCOMMAND_RULES[client] = (args) => {
    const verbs = args.filter((arg) => !arg.startsWith("-")).slice(0, 2);
    return verbs.length > 0 && READ_VERBS.has(verbs[verbs.length - 1]!);
  };
}

function firstWord(args: string[]): string | undefined {
  return args.find((arg) => !arg.startsWith("-"));
}

/** An output redirection to anything but /dev/null or another descriptor writes a file. */
function writesAFile(segment: string[]): boolean {
  return segment.some((word, index) => {
    const match = /^(?:\d*|&)>>?(.*)$/.exec(word);
    if (!match) return false;
    const target = match[1] || segment[index + 1] || "";
    return !(target === "/dev/null" || /^&\d+-?$/.test(target));
  });
}

/** One stage of a pipeline (`a | b`): does it only read? */
function stageOnlyReads(stage: string[]): boolean {
  if (writesAFile(stage)) return false;
  let rest = stage.filter((word) => !/^(?:\d*|&)[<>]/.test(word));
  if (["for", "case", "select", "function"].includes(rest[0] ?? "")) return true; // a loop's or function's header: its body is judged on its own
  while (rest.length && (KEYWORDS.has(rest[0]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0]!))) rest = rest.slice(1);
  while (rest.length && ["sudo", "doas", "env", "nohup", "exec"].includes(rest[0]!)) rest = rest.slice(1).filter((word, index) => index > 0 || !word.startsWith("-"));
  const [name, ...args] = rest;
  if (name === undefined) return true; // an assignment or a keyword alone: nothing a check could see
  if (name === "tee") return args.every((arg) => arg.startsWith("-") || arg === "/dev/null");
  const rule = SUBCOMMAND_RULES[name];
  if (rule) return rule(args);
  return READ_ONLY.has(name);
}

/**
 * The importer's heuristic: a command changes state unless every stage of it
 * is on the read-only list (ls, cat, grep, echo without a redirection, …;
 * `systemctl status`, `journalctl`, `git status`, `kubectl get`, `ctr … ls`,
 * `nix eval`, …), writes no file (`>`, `>>`, `tee`) and is not `sed -i`,
 * `find -delete` or the like. When unsure, it says "changes": a checkpoint
 * too many is one the author deletes, a missing one goes unnoticed.
 */
export function changesState(command: string): boolean {
  const head = command.split("\n")[0]!; // a here-document's body is data
  const stages: string[][] = [[]];
  for (const word of words(head)) {
    if (word === "|" || word === "|&") stages.push([]);
    else stages[stages.length - 1]!.push(word);
  }
  return !stages.every(stageOnlyReads);
}

/** The commands of a block that change state (empty: the block only reads). */
export function stateChangingCommands(script: string): string[] {
  return simpleCommands(script).filter(changesState);
}
