// See action.yml: a stand-in for actions/download-artifact on @actions/artifact.
import path from "node:path";
import * as core from "@actions/core";
import { DefaultArtifactClient } from "@actions/artifact";

const escape = (s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");

try {
  const client = new DefaultArtifactClient();
  const name = core.getInput("name");
  const dest = path.resolve(core.getInput("path") || ".");
  if (name) {
    const { artifact } = await client.getArtifact(name);
    await client.downloadArtifact(artifact.id, { path: dest });
    core.info(`downloaded ${name} into ${dest}`);
  } else {
    const pattern = core.getInput("pattern") || "*";
    const re = new RegExp("^" + pattern.split("*").map(escape).join(".*") + "$");
    const merge = core.getInput("merge-multiple") === "true";
    const { artifacts } = await client.listArtifacts({ latest: true });
    const matching = artifacts.filter((a) => re.test(a.name));
    for (const a of matching) {
      await client.downloadArtifact(a.id, { path: merge ? dest : path.join(dest, a.name) });
    }
    core.info(`downloaded ${matching.length} artifact(s) matching ${pattern} into ${dest}`);
  }
} catch (e) {
  core.setFailed(e.message);
}
