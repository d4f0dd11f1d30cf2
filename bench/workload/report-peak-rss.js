'use strict';
// Preloaded after the agent by the startup bench: at exit, writes this process's peak RSS (kB, from getrusage)
// to the file named by BENCH_PEAK_RSS_FILE. maxRSS is a high-water mark, so a late reading loses nothing.
const fs = require('node:fs');

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    fs.writeFileSync(file, String(process.resourceUsage().maxRSS));
  });
}
