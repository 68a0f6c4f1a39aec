{
  description = "a github input whose URL carries both a branch name and a rev (the seed's ref+rev crash); rejected while parsing, before any download";
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable?rev=bae1bd10c9c57b2cf517953ab70060a828ee6f0f";
  outputs = { self, nixpkgs }: { };
}
