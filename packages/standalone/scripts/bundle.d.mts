// Types of bundle.mjs (plain JavaScript so `pnpm start` needs no compiler to run it).
export declare const bundleFile: string;
export declare const metaFile: string;
export declare const BUNDLE_RAN: string;
export declare function isBundleFresh(): boolean;
export declare function buildBundle(): Promise<string>;
