{
  description = "an https:// .tar.gz non-flake input (a tarball by its extension): a GitHub archive URL by branch name, redirected to codeload and served by gnfc's mirror forge";
  inputs.data = {
    url = "https://github.com/gnfc-forge/data/archive/main.tar.gz";
    flake = false;
  };
  outputs = { self, data }: {
    packages.x86_64-linux.default = builtins.derivation {
      name = "message";
      system = "x86_64-linux";
      builder = "/bin/sh";
      args = [ "-c" "echo '${builtins.readFile "${data}/message.txt"}' > $out" ];
    };
  };
}
