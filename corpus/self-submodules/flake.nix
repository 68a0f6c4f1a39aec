{
  description = "inputs.self.submodules = true asks Nix to refetch the flake itself with git submodules (newer CppNix and Lix only)";
  inputs.self.submodules = true;
  outputs = { self }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "self-submodules";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo > $out" ];
    };
  };
}
