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

/** A token of one simple command: a word (quotes removed) or an operator (`|`, `>`, `2>&1`, `;`, …), split even without spaces. */
type Token = { text: string; op: boolean };

/** A redirection to or from another descriptor (`2>&1`, `>&2`, `<&0`, `>&-`), not to a file: a bare `>&` (`>&file`) writes the file. */
const TO_DESCRIPTOR = /&(\d+-?|-)$/;

/**
 * Lexes one simple command into words and operators: `echo hi>file` is
 * echo, hi, `>`, file; `cat x|tee y` is cat, x, `|`, tee, y. Returns
 * undefined when the command substitutes a command (`$(…)`, backticks or
 * a process substitution `<(…)` / `>(…)` outside quotes): what that runs is
 * not read here, so it counts as a change.
 */
function tokens(command: string): Token[] | undefined {
  const result: Token[] = [];
  let word = "";
  let inWord = false;
  let quote: string | undefined;
  const end = () => {
    if (inWord) result.push({ text: word, op: false });
    word = "";
    inWord = false;
  };
  for (let i = 0; i < command.length; i++) {
    const char = command[i]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
      continue;
    }
    if (char === "`" || (char === "$" && command[i + 1] === "(")) return undefined;
    if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === "\\" && i + 1 < command.length) word += command[++i];
      else word += char;
      continue;
    }
    if (char === "\\") {
      word += command[++i] ?? "";
      inWord = true;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (/\s/.test(char)) end();
    else if ("|&;<>".includes(char)) {
      if ((char === "<" || char === ">") && command[i + 1] === "(") return undefined;
      // A file descriptor right before a redirection belongs to it: 2>, 2>&1.
      let op = "";
      if ((char === ">" || char === "<") && /^\d+$/.test(word) && inWord) {
        op = word;
        word = "";
        inWord = false;
      } else end();
      const match = /^(?:\|\||\|&|\||&&|&>>|&>|&|;;|;|>>|>&\d*-?|>\||>|<<<|<<-?|<&\d*-?|<>|<)/.exec(command.slice(i))!;
      op += match[0];
      i += match[0].length - 1;
      result.push({ text: op, op: true });
    } else {
      word += char;
      inWord = true;
    }
  }
  end();
  return result;
}

/** Commands that only read (the heuristic's allow-list); anything else is taken to change state. */
const READ_ONLY = new Set(
  (
    "ls ll la tree cat bat less more head tail grep egrep fgrep rg wc echo printf pwd whoami id groups uname date env printenv " +
    "which type whereis file stat du df free ps pgrep top htop uptime ss netstat lsof lsblk findmnt dig nslookup host ping tracepath " +
    "realpath readlink dirname basename test [ [[ true false sleep uniq cut tr column jq diff cmp md5sum sha1sum sha256sum b2sum base64 " +
    "xxd hexdump od strings man help history cd pushd popd export unset alias clear exit lscpu nproc getent getfacl " +
    "systemd-analyze nixos-option nixos-version nix-info awk cut tac nl fold fmt seq expr bc"
  ).split(" "),
);

/** Words that only open or close a compound command; the commands inside are judged on their own. */
const KEYWORDS = new Set(["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac", "{", "}", "!", "time"]);

/** Subcommands (the last non-flag word among the first two after the command) that only read. */
const READ_VERBS = new Set(["ls", "list", "info", "inspect", "version", "ps", "logs", "images", "top", "stats", "show", "get", "describe", "explain", "status", "health"]);

/** Flags that take the next word as their value (so that word is no subcommand): `ctr -n k8s.io images ls`, `kubectl --namespace x get pods`. */
const VALUE_FLAGS = new Set([
  "-n", "--namespace", "-a", "--address", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server", "-c", "--container",
  "--endpoints", "--cacert", "--cert", "--key", "--dial-timeout", "--command-timeout", "-H", "--host", "--file", "--selector",
  "-o", "--output", "--runtime-endpoint", "--image-endpoint", "--root", "--log", "--log-format", "--extra-experimental-features",
  "--option", "--include", "--arg", "--argstr", "--attr", "--store",
]);

/** The non-flag words of a command's arguments, a flag's value skipped (`-n X`, `--namespace X`; `--namespace=X` is one word). */
function verbs(args: string[]): string[] {
  const result: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith("-")) {
      if (VALUE_FLAGS.has(arg)) i++;
      continue;
    }
    result.push(arg);
  }
  return result;
}

function firstWord(args: string[]): string | undefined {
  return verbs(args)[0];
}

const SUBCOMMAND_RULES: Record<string, (args: string[]) => boolean> = {
  systemctl: (args) => ["status", "show", "cat", "list-units", "list-unit-files", "list-timers", "list-dependencies", "is-active", "is-enabled", "is-failed"].includes(firstWord(args) ?? ""),
  journalctl: (args) => !args.some((arg) => /^--(rotate|vacuum|flush|sync|relinquish|setup-keys|update-catalog)/.test(arg)),
  git: (args) => ["status", "log", "diff", "show", "blame", "ls-files", "rev-parse", "grep", "shortlog", "describe"].includes(firstWord(args) ?? ""),
  kubectl: (args) => {
    const [verb, sub] = verbs(args);
    if (verb === "config") return ["view", "get-contexts", "current-context", "get-clusters", "get-users"].includes(sub ?? "");
    if (verb === "auth") return ["can-i", "whoami"].includes(sub ?? "");
    return ["get", "describe", "logs", "explain", "version", "api-resources", "api-versions", "cluster-info", "top"].includes(verb ?? "");
  },
  etcdctl: (args) => ["get", "endpoint", "version", "check"].includes(firstWord(args) ?? "") || (firstWord(args) === "member" && verbs(args)[1] === "list"),
  nix: (args) =>
    !args.some((arg) => /^--(write-to|out-link|profile)/.test(arg)) &&
    (["eval", "search", "show-config", "path-info", "why-depends", "log", "derivation", "hash"].includes(firstWord(args) ?? "") ||
      (firstWord(args) === "flake" && ["show", "metadata", "info"].includes(verbs(args)[1] ?? ""))) &&
    !(firstWord(args) === "derivation" && verbs(args)[1] === "add"),
  "nix-instantiate": (args) => args.includes("--eval") || args.includes("--parse"),
  "nix-store": (args) => args.some((arg) => arg === "-q" || arg === "--query" || arg === "--verify") && !args.includes("--repair"),
  openssl: (args) =>
    ["verify", "s_client", "version", "list", "asn1parse"].includes(firstWord(args) ?? "") ||
    (["x509", "crl"].includes(firstWord(args) ?? "") && !args.includes("-out") && !args.includes("-req")) ||
    (firstWord(args) === "req" && args.includes("-noout") && !args.includes("-out") && !args.includes("-new")),
  curl: (args) => !args.some((arg) => /^-[a-zA-Z]*[oOXdTFJ]|^--(output|remote-name|request|data|upload-file|form|json|create-dirs|dump-header|cookie-jar)/.test(arg)),
  find: (args) => !args.some((arg) => ["-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0", "-fprintf", "-fls"].includes(arg)),
  sed: (args) => !args.some((arg) => /^-[a-zA-Z]*i|^--in-place/.test(arg)) && !args.some((arg) => /(^|;|\s)w\s/.test(arg)),
  sort: (args) => !args.some((arg) => /^-[a-zA-Z]*o|^--output/.test(arg)),
  yq: (args) => !args.some((arg) => /^-[a-zA-Z]*i|^--inplace|^--in-place/.test(arg)),
  ip: (args) => !args.some((arg) => ["add", "del", "delete", "set", "flush", "replace", "change", "append"].includes(arg)),
  hostname: (args) => args.filter((arg) => !arg.startsWith("-")).length === 0,
  hostnamectl: (args) => verbs(args).length === 0 || firstWord(args) === "status",
  mount: (args) => args.every((arg) => arg === "-l" || arg === "--show-labels"),
  command: (args) => args[0] === "-v" || args[0] === "-V",
};
for (const client of ["ctr", "nerdctl", "docker", "podman", "crictl", "runc"]) {
  SUBCOMMAND_RULES[client] = (args) => {
    const found = verbs(args).slice(0, 2);
    return found.length > 0 && READ_VERBS.has(found[found.length - 1]!);
  };
}

/** An output redirection to anything but /dev/null or another descriptor writes a file. */
function writesAFile(stage: Token[]): boolean {
  return stage.some((token, index) => {
    if (!token.op || !/>/.test(token.text)) return false;
    if (TO_DESCRIPTOR.test(token.text)) return false;
    const target = stage[index + 1];
    return !(target && !target.op && target.text === "/dev/null");
  });
}

/** One stage of a pipeline (`a | b`): does it only read? */
function stageOnlyReads(stage: Token[]): boolean {
  if (writesAFile(stage)) return false;
  // Drop redirections and their targets (inputs: reading a file changes nothing).
  const plain: string[] = [];
  for (let i = 0; i < stage.length; i++) {
    const token = stage[i]!;
    if (token.op) {
      if (/[<>]/.test(token.text) && !TO_DESCRIPTOR.test(token.text)) i++;
      continue;
    }
    plain.push(token.text);
  }
  let rest = plain;
  if (["for", "case", "select", "function"].includes(rest[0] ?? "")) return true; // a loop's or function's header: its body is judged on its own
  while (rest.length && (KEYWORDS.has(rest[0]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(rest[0]!))) rest = rest.slice(1);
  // Wrappers run the command after them (watch too: `watch ctr task ls` reads, `watch rm x` does not).
  while (rest.length && ["sudo", "doas", "env", "nohup", "exec", "watch"].includes(rest[0]!)) rest = rest.slice(1).filter((word, index) => index > 0 || !word.startsWith("-"));
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
 * `nix eval`, …), writes no file (`>`, `>>`, `tee`), substitutes no command
 * (`$(…)`, backticks) and is not `sed -i`, `find -delete` or the like. Words
 * and operators are split even without spaces (`echo hi>f`, `a|tee b`); a
 * flag's value is not taken for a subcommand (`ctr -n k8s.io images rm x`).
 * When unsure, it says "changes": a checkpoint too many is one the author
 * deletes, a missing one goes unnoticed.
 */
export function changesState(command: string): boolean {
  const head = command.split("\n")[0]!; // a here-document's body is data
  const lexed = tokens(head);
  if (!lexed) return true;
  const stages: Token[][] = [[]];
  for (const token of lexed) {
    if (token.op && ["|", "|&", "||", "&&", ";", "&", ";;"].includes(token.text)) stages.push([]);
    else stages[stages.length - 1]!.push(token);
  }
  return !stages.every(stageOnlyReads);
}

/** The commands of a block that change state (empty: the block only reads). */
export function stateChangingCommands(script: string): string[] {
  return simpleCommands(script).filter(changesState);
}
