/**
 * What a lab is, as data: `labs/<series>/<folder>/lab.yaml` plus the check
 * and solve scripts it names. Validated at load by server/labs.ts; the site
 * build uses the same schema to refuse pages naming unknown labs or
 * checkpoints. Imports nothing but zod, so the browser-free site build can
 * use it too.
 */
import { z } from "zod";

/** Lab ids travel in the terminal protocol (`[A-Za-z0-9_-]{1,64}`); kebab-case fits it. */
export const LAB_ID = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

const kebabId = (what: string) =>
  z.string().max(64).regex(LAB_ID, `${what} must be kebab-case: lowercase letters, digits and single dashes`);

/** A script inside the lab folder: relative, no `..`, a `.sh` file. */
const scriptPath = z
  .string()
  .regex(/^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._/-]+\.sh$/, "must be a relative path to a .sh file inside the lab folder (no ..)");

const command = z.union([
  z.string().min(1).describe("Command name, looked up on PATH; a Debian package is suggested when it is missing"),
  z
    .object({
      name: z.string().min(1).describe("Command name, looked up on PATH"),
      install: z.string().min(1).describe("How to get it, shown when it is missing (e.g. 'only on the NixOS lab VM')"),
    })
    .strict(),
]);

export const RequirementsSchema = z
  .object({
    services: z
      .array(z.enum(["containerd", "registry"]))
      .default([])
      .describe("Shared services the environment must provide: containerd (a namespace per environment) and the local registry serving the images"),
    commands: z
      .array(command)
      .default([])
      .describe("Commands the reader and the checks run (e.g. etcd, etcdctl, openssl, kubelet); a host without one refuses the lab and says how to get it"),
    cniPlugins: z.array(z.string().min(1)).default([]).describe("CNI plugin binaries needed in /usr/lib/cni (e.g. loopback)"),
    images: z
      .array(z.string().min(1))
      .default([])
      .describe("Image references the reader pulls, served offline by the local registry (e.g. docker.io/library/busybox:latest)"),
  })
  .strict()
  .describe("What the lab environment needs; checked when the lab server prepares the lab");

export const EnvironmentSchema = z
  .object({
    cniConfigDir: z
      .literal("empty")
      .default("empty")
      .describe("Start state of the environment's own /etc/cni/net.d; 'empty' so the reader meets the missing-config failure"),
    setup: scriptPath.optional().describe("Script run once inside a new environment before the reader's first shell"),
    reset: z
      .literal("recreate")
      .default("recreate")
      .describe("How an environment is reset: disposed (processes, mounts, containerd namespace, files) and created anew"),
  })
  .strict()
  .describe("How each reader's environment for this lab is provisioned and reset");

export const CheckpointSchema = z
  .object({
    id: kebabId("checkpoint id").describe("Stable id, named by <Checkpoint id=…> in the lab's page"),
    title: z.string().min(1).describe("Shown next to the Check button"),
    check: scriptPath.describe("Script (relative to the lab folder) run inside the reader's environment: exit 0 = pass; its output is the feedback"),
    solve: scriptPath.describe("What a reader would type to reach the checkpoint: run by the lab test, and by the server when the reader asks (Solve, Catch me up, a lab that continues this one); never text from a browser"),
    hint: z.string().min(1).describe("Shown when the check fails"),
    timeoutMs: z.number().int().min(500).max(120_000).default(15_000).describe("The check is killed (and fails) after this long"),
    needs: z
      .array(command)
      .default([])
      .describe(
        "Commands this step needs beyond the lab's own requirements (e.g. kubelet, kube-apiserver): on a lab server without them the page says the step needs the NixOS lab VM, and its check and solve answer that instead of failing or passing",
      ),
  })
  .strict();

export const LabSchema = z
  .object({
    id: kebabId("lab id").describe("Unique across all labs; what pages, the terminal protocol and `npm run lab:test <id>` use"),
    title: z.string().min(1).describe("Human title of the lab"),
    series: kebabId("series").describe("Series the lab belongs to; must equal the parent folder under labs/"),
    part: z.number().int().min(0).optional().describe("Position in the series"),
    summary: z.string().optional().describe("One paragraph on what the reader does"),
    continues: kebabId("lab id")
      .optional()
      .describe("The lab whose end state this one starts from (e.g. Part 2 continues Part 1): a new environment gets it by that lab's setup and solves, in order, shown at the start of each new shell in it"),
    requires: RequirementsSchema.prefault({}),
    environment: EnvironmentSchema.prefault({}),
    checkpoints: z
      .array(CheckpointSchema)
      .min(1)
      .describe("Ordered: each one fails until the reader does its step, and passes after")
      .superRefine((checkpoints, context) => {
        const seen = new Set<string>();
        checkpoints.forEach((checkpoint, index) => {
          if (seen.has(checkpoint.id)) context.addIssue({ code: "custom", path: [index, "id"], message: `duplicate checkpoint id "${checkpoint.id}"` });
          seen.add(checkpoint.id);
        });
      }),
  })
  .strict();

export type Lab = z.infer<typeof LabSchema>;
export type Checkpoint = z.infer<typeof CheckpointSchema>;
export type Requirements = z.infer<typeof RequirementsSchema>;
export type CommandRequirement = Requirements["commands"][number];

/** A link to one of the original posts. */
const SeriesPartSchema = z
  .object({
    part: z.number().int().min(0).describe("Position in the series, as the author numbers it"),
    title: z.string().min(1).describe("The post's title, as the author wrote it"),
    date: z.iso.date().describe("First published (YYYY-MM-DD)"),
    url: z.url().describe("The original post"),
  })
  .strict();

/**
 * `labs/<series>/series.yaml`: whose series the labs follow, so every page
 * can credit the author and link the originals. The site adds labs; the
 * words and the work are the author's.
 */
export const SeriesSchema = z
  .object({
    id: kebabId("series id").describe("Must equal the folder under labs/"),
    title: z.string().min(1).describe("The series' title"),
    author: z.string().min(1).describe("Who wrote the series"),
    url: z.url().describe("Where the series lives (an index or tag page)"),
    source: z.url().optional().describe("The author's own code the posts cite (a repository)"),
    parts: z.array(SeriesPartSchema).min(1).describe("The posts, in order"),
  })
  .strict();

export type Series = z.infer<typeof SeriesSchema>;
