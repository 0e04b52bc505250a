/**
 * Shell integration for every local driver's bash (OSC 133, the marks VS Code
 * and other terminals read): C when a command starts (PS0, printed after the
 * reader's Enter), D with its exit status when it ends, A when the prompt is
 * back. The page reads them to know whether a terminal is busy before Run
 * types into it, and when a Run's command is done.
 */
export const PROMPT_MARKS: Readonly<Record<"PROMPT_COMMAND" | "PS0", string>> = {
  PROMPT_COMMAND: 'printf "\\033]133;D;%s\\007\\033]133;A\\007" "$?"',
  PS0: "\\e]133;C\\a",
};
