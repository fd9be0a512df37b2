export function buildWeb(opts?: { outDir?: string; minify?: boolean }): Promise<string>;
