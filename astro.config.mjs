// @ts-check
import { defineConfig } from "astro/config";
import starlight from "@astrojs/starlight";
import mdx from "@astrojs/mdx";
import { pluginRunButton } from "./src/components/expressive-code/run-button.ts";
import { labReferences } from "./src/components/integrations/lab-references.ts";
import { labDevReload } from "./src/components/integrations/lab-dev-reload.ts";

export default defineConfig({
  integrations: [
    starlight({
      title: "Nix Way Labs",
      description: "Kubernetes the Nix Way, with a terminal next to every step.",
      customCss: ["./src/styles/labs.css"],
      // Lab pages (frontmatter `lab`) get the lab runtime and context around their content.
      // Every page's footer credits the series (labs/<series>/series.yaml).
      components: {
        MarkdownContent: "./src/components/LabContent.astro",
        Footer: "./src/components/SeriesFooter.astro",
        // Lab pages: the lab pane in the right-hand column, the table of contents as the "On this page" bar.
        TwoColumnContent: "./src/components/LabTwoColumnContent.astro",
        PageSidebar: "./src/components/LabPageSidebar.astro",
      },
      // Wrapped, so a long command is whole on screen, not under the Run button.
      expressiveCode: { plugins: [pluginRunButton()], defaultProps: { wrap: true } },
      sidebar: [
        { label: "Start here", items: [{ label: "How the labs work", link: "/" }, { slug: "self-hosting" }, { slug: "drivers" }] },
        { label: "Labs", items: [{ autogenerate: { directory: "labs" } }] },
      ],
    }),
    mdx(),
    labReferences(),
    labDevReload(),
  ],
});
