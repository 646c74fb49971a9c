fn main() {
    println!("helixfold");
}
