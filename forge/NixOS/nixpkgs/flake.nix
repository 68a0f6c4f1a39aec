{
  description = "stand-in for nixpkgs, which the global registry's `nixpkgs` names (github:NixOS/nixpkgs/nixpkgs-unstable)";
  outputs = { self }: {
    lib.origin = "mirror-nixpkgs";
  };
}
