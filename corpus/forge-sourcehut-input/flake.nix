{
  description = "a sourcehut: input served by gnfc's mirror forge (HEAD, info/refs, then archive/<rev>.tar.gz)";
  inputs.lib.url = "sourcehut:~gnfc/hut-lib";
  outputs = { self, lib }: {
    packages.x86_64-linux.default = lib.lib.mkPkg "from-${lib.lib.origin}";
  };
}
