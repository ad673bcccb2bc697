//! Documents of `cratemill matrix`: the job plan, its chunks, and the built index it reads.
