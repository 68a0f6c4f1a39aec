{
  description = "a broken input override: dep has no input named nixpkgs, yet the root overrides it";
  inputs.dep = {
    url = "path:./dep";
    inputs.nixpkgs.follows = "";
  };
  outputs = { self, dep }: {
    packages.x86_64-linux.default = dep.packages.x86_64-linux.dep;
  };
}
