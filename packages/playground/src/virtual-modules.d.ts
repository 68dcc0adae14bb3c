/** vite.config.ts's `convnetsNetworks` plugin: imports every network package the page depends on, for their registrations. */
declare module "virtual:convnets-networks" {}
