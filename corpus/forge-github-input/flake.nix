{
  description = "a github: input served by gnfc's mirror forge (commits API, then the tarball through the codeload redirect); the committed lock pins the mirror's deterministic revision";
  inputs.lib.url = "github:gnfc-forge/github-lib";
  outputs = { self, lib }: {
    packages.x86_64-linux.default = lib.lib.mkPkg "from-${lib.lib.origin}";
  };
}
