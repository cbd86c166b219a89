// Gzip sizes of what each page loads: its entry script, the chunks it imports and its CSS,
// read from the built index.html files (run `npm run build` first).
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const dist = resolve(import.meta.dirname, "..", "dist");

function loaded(pageDir) {
  const html = readFileSync(join(dist, pageDir, "index.html"), "utf8");
  const refs = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  const files = new Set();
  const lazy = new Set();
  // Static imports load with the page; import("…") chunks (the camera's QR decoder) load when a
  // page needs them and are counted apart.
  const visit = (file, later) => {
    if (files.has(file) || (later && lazy.has(file))) return;
    (later ? lazy : files).add(file);
    if (!file.endsWith(".js")) return;
    const code = readFileSync(file, "utf8");
    for (const m of code.matchAll(/from\s*"(\.\/[^"]+\.js)"|import\("(\.\/[^"]+\.js)"\)/g)) {
      visit(join(dirname(file), m[1] ?? m[2]), later || m[2] !== undefined);
    }
  };
  for (const ref of refs) visit(resolve(join(dist, pageDir), ref), false);
  return { files: [...files], lazy: [...lazy].filter((file) => !files.has(file)) };
}

let failed = false;
for (const page of ["h5", "console"]) {
  let js = 0;
  let css = 0;
  let later = 0;
  try {
    const { files, lazy } = loaded(page);
    for (const file of files) {
      const size = gzipSync(readFileSync(file), { level: 9 }).length;
      if (file.endsWith(".css")) css += size;
      else js += size;
    }
    for (const file of lazy) later += gzipSync(readFileSync(file), { level: 9 }).length;
  } catch (error) {
    console.error(`${page}: ${error.message} (run npm run build first)`);
    failed = true;
    continue;
  }
  const kb = (n) => (n / 1024).toFixed(1).padStart(6);
  console.log(
    `${page.padEnd(8)} js ${kb(js)} KiB gzip   css ${kb(css)} KiB gzip   total ${kb(js + css)} KiB gzip` +
      (later ? `   + on demand ${kb(later)} KiB gzip` : ""),
  );
}
process.exit(failed ? 1 : 0);
