{
  description = "a gitlab: input served by gnfc's mirror forge (API v4 commits?ref_name=, then archive.tar.gz?sha=)";
  inputs.lib.url = "gitlab:gnfc-forge/gitlab-lib";
  outputs = { self, lib }: {
    packages.x86_64-linux.default = lib.lib.mkPkg "from-${lib.lib.origin}";
  };
}
