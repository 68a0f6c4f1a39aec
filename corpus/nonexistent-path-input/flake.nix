{
  description = "a relative path input that does not exist in the repo";
  inputs.missing = {
    url = "path:./does-not-exist";
    flake = false;
  };
  outputs = { self, missing }: { };
}
