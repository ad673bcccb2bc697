// See action.yml: a stand-in for actions/upload-artifact on @actions/artifact.
import fs from "node:fs";
import path from "node:path";
import * as core from "@actions/core";
import { DefaultArtifactClient } from "@actions/artifact";

const escape = (s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");

// Expand one pattern with `*` inside path segments.
function expand(pattern) {
  let found = [path.parse(path.resolve(pattern)).root];
  for (const part of path.resolve(pattern).split(path.sep).filter(Boolean)) {
    const next = [];
    for (const dir of found) {
      if (!part.includes("*")) {
        next.push(path.join(dir, part));
        continue;
      }
      const re = new RegExp("^" + part.split("*").map(escape).join("[^/]*") + "$");
      let entries = [];
      try {
        entries = fs.readdirSync(dir);
      } catch {}
      next.push(...entries.filter((e) => re.test(e)).map((e) => path.join(dir, e)));
    }
    found = next.filter((p) => fs.existsSync(p));
  }
  return found;
}

const files = (p) => (fs.statSync(p).isDirectory() ? fs.readdirSync(p).flatMap((e) => files(path.join(p, e))) : [p]);

// The folder a pattern searches: its path up to the first segment with a glob.
function searchPath(pattern) {
  const parts = path.resolve(pattern).split(path.sep);
  const i = parts.findIndex((p) => p.includes("*"));
  return i < 0 ? path.resolve(pattern) : parts.slice(0, i).join(path.sep) || path.sep;
}

function commonAncestor(paths) {
  let parts = paths[0].split(path.sep);
  for (const p of paths.slice(1)) {
    const other = p.split(path.sep);
    let n = 0;
    while (n < parts.length && n < other.length && parts[n] === other[n]) n++;
    parts = parts.slice(0, n);
  }
  return parts.join(path.sep) || path.sep;
}

try {
  const name = core.getInput("name") || "artifact";
  const patterns = core.getInput("path", { required: true }).split("\n").map((l) => l.trim()).filter(Boolean);
  const found = [...new Set(patterns.flatMap(expand).flatMap(files))].sort();
  if (found.length === 0) {
    const how = core.getInput("if-no-files-found") || "warn";
    const msg = `No files were found with the provided path: ${patterns.join(", ")}. No artifacts will be uploaded.`;
    if (how === "error") core.setFailed(msg);
    else if (how === "warn") core.warning(msg);
    else core.info(msg);
  } else {
    let root = commonAncestor(patterns.map(searchPath));
    if (patterns.length === 1 && fs.existsSync(root) && !fs.statSync(root).isDirectory()) root = path.dirname(root);
    const client = new DefaultArtifactClient();
    if (core.getInput("overwrite") === "true") {
      try {
        await client.deleteArtifact(name);
      } catch {
        // none of that name yet (or the server cannot delete: act overwrites on upload)
      }
    }
    const days = parseInt(core.getInput("retention-days") || "0", 10);
    const r = await client.uploadArtifact(name, found, root, days > 0 ? { retentionDays: days } : {});
    core.info(`uploaded ${found.length} file(s) as ${name} (id ${r.id}, ${r.size} bytes) from ${root}`);
    core.setOutput("artifact-id", r.id);
  }
} catch (e) {
  core.setFailed(e.message);
}
