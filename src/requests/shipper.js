export class RequestShipper {
    #forwarder;
    #maxRecords;
    #maxWaitMs;
    #batch = [];
    #timer;
    constructor(forwarder, options = {}) {
        this.#forwarder = forwarder;
        this.#maxRecords = options.maxRecords ?? 200;
        this.#maxWaitMs = options.maxWaitMs ?? 1_000;
    }
    add(record) {
        this.#batch.push(record);
        if (this.#batch.length >= this.#maxRecords)
            this.flush();
        else
            this.#timer ??= setTimeout(() => this.flush(), this.#maxWaitMs);
    }
    flush() {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        if (this.#batch.length === 0)
            return;
        const batch = this.#batch;
        this.#batch = [];
        this.#forwarder.enqueue(JSON.stringify(batch), batch.length);
    }
    /** Send what is gathered, then let the queue drain until `deadlineMs`. */
    async close(deadlineMs) {
        this.flush();
        await this.#forwarder.close(deadlineMs);
    }
}
