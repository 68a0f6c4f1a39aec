{
  description = "app flake using a sibling flake through path:../lib";
  inputs.lib.url = "path:../lib";
  outputs = { self, lib }: {
    packages.x86_64-linux.default = lib.lib.mkPkg "app";
  };
}
