{
  description = "a passing flake with every evaluated output kind, all built from builtins.derivation";
  outputs = { self }:
    let
      system = "x86_64-linux";
      mk = name: builtins.derivation {
        inherit name system;
        builder = "/bin/sh";
        args = [ "-c" "echo ${name} > $out" ];
      };
      # a NixOS-like configuration: only config.system.build.toplevel is looked at
      fakeSystem = name: {
        config.system.build.toplevel = mk "nixos-system-${name}";
        config.networking.hostName = name;
      };
    in
    {
      packages.${system} = {
        default = mk "hello";
        tool = mk "tool";
      };
      defaultPackage.${system} = self.packages.${system}.default;
      devShells.${system}.default = mk "dev-shell";
      devShell.${system} = self.devShells.${system}.default;
      checks.${system} = {
        hello = self.packages.${system}.default;
        unit = mk "unit-check";
      };
      legacyPackages.${system} = {
        hello = mk "legacy-hello";
        nested.tool = mk "legacy-tool";
        # legacyPackages is only listed, never forced: this would fail if it were evaluated
        broken = throw "legacyPackages values must not be forced";
      };
      nixosConfigurations.machine = fakeSystem "machine";
      homeConfigurations."user@machine".activationPackage = mk "home-activation";
      darwinConfigurations.mac.system = mk "darwin-system";
      # not evaluated by the harness
      lib.greeting = "hello";
      templates.default = { path = ./.; description = "template"; };
      packages.aarch64-linux.default = throw "other systems are not evaluated";
    };
}
