// Builds the portal into portal/dist/: index.html plus content-hashed JS and
// CSS that it references, minified by esbuild; prints the sizes and fails when
// JS and CSS together pass the gzip budget.
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP_BYTES = 60 * 1024;
const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");

// Empty dist/ but keep the directory itself: a running `wrangler dev` watches it.
mkdirSync(dist, { recursive: true });
for (const file of readdirSync(dist)) rmSync(join(dist, file), { recursive: true, force: true });

const result = await build({
  entryPoints: { portal: join(here, "src/main.tsx"), style: join(here, "src/styles.css") },
  outdir: dist,
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((p) => p.split("/").pop());
const js = outputs.find((f) => f.endsWith(".js"));
const css = outputs.find((f) => f.endsWith(".css"));
if (!js || !css) throw new Error(`expected one .js and one .css output, got ${outputs.join(", ")}`);

const html = readFileSync(join(here, "index.html"), "utf8").replace("{{JS}}", js).replace("{{CSS}}", css);
writeFileSync(join(dist, "index.html"), html);

let total = 0;
for (const file of readdirSync(dist).sort()) {
  const bytes = readFileSync(join(dist, file));
  const gz = gzipSync(bytes, { level: 9 }).length;
  if (file.endsWith(".js") || file.endsWith(".css")) total += gz;
  console.log(`portal/dist/${file}: ${bytes.length} bytes raw, ${gz} bytes gzip`);
}
console.log(`portal JS+CSS: ${total} bytes gzip (budget ${BUDGET_GZIP_BYTES})`);
if (total > BUDGET_GZIP_BYTES) {
  console.error("portal bundle is over its gzip budget");
  process.exit(1);
}
