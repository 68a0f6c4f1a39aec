{
  description = "dependency flake referenced under the input name hls-1.2; on its own it has no evaluated outputs";
  outputs = { self }: {
    version = "1.2";
  };
}
